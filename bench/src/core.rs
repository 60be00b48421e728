//! The core's benchmarks, on the PostgreSQL of the local stack: batched append throughput,
//! single-append latency, loading a 10,000-event stream with and without snapshots, and the
//! state at a time in the middle of it. Every figure has a raw-sqlx (or no-snapshot) baseline
//! measured in the same run.
//!
//! Stream ids carry a per-run id (`bench-<run>-…`), so runs never collide. At the end the run
//! deletes its outbox rows (a pending row would wait for a relay forever, and tests that read
//! the outbox would page through them) and drops its baseline table; its events stay.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use keel_core::store::{PostgresStore, StreamQuery};
use keel_core::testing::conformance::{Ledger, LedgerCommand, LedgerEvent};
use keel_core::testing::stack;
use keel_core::{EventStore as _, ExpectedVersion, Metadata, NewEvent, Repository, SnapshotPolicy};
use sqlx::postgres::PgPoolOptions;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use crate::BenchError;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;

/// Events per measured batched-append run (each side runs it twice, in A-B-B-A order).
const BATCHED_EVENTS_PER_ROUND: usize = 100_000;
/// Measured rounds per side of the batched-append benchmark.
const BATCHED_ROUNDS: usize = 2;
/// Events per append call (one new stream each).
const BATCH: usize = 1_000;
/// Concurrent appending tasks.
const WRITERS: usize = 4;
/// Batches appended by each side before measuring (connections, caches, statement cache).
const WARMUP_BATCHES: usize = 8;

/// Measured single-event appends, per side.
const SINGLES: usize = 5_000;
/// Single appends per side before measuring.
const WARMUP_SINGLES: usize = 200;

/// Events in the stream the load benchmarks read.
const STREAM_LEN: u64 = 10_000;
/// The snapshot policy of the snapshotted stream: every 100 events.
const SNAPSHOT_EVERY: u64 = 100;
/// The version whose recorded time `load_at` asks for (in the middle of the stream).
const AT_VERSION: u64 = 5_050;
/// Measured loads per figure.
const LOADS: usize = 200;
/// Loads per figure before measuring.
const WARMUP_LOADS: usize = 10;

/// Runs the core's benchmarks and records their figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let url = stack::postgres().require().url;
    let store = PostgresStore::connect(&url).await?;
    let raw = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await?;
    let run_id = Uuid::new_v4().simple().to_string();
    let mut bench = Bench {
        store,
        baseline: Arc::new(Baseline::create(&raw, &run_id).await?),
        raw,
        run_id,
        written: Vec::new(),
    };
    eprintln!(
        "core: run {} against {} (baseline table {})",
        bench.run_id,
        stack::postgres().addr,
        bench.baseline.table
    );

    let started = Instant::now();
    let outcome = bench.all(report).await;
    let cleaned = bench.cleanup().await;
    eprintln!("core: done in {:.1} s", started.elapsed().as_secs_f64());
    outcome?;
    cleaned
}

/// The baseline: a plain (logged) table with the event store's columns, written with raw sqlx.
struct Baseline {
    table: String,
    insert_batch: Arc<str>,
    insert_one: Arc<str>,
}

impl Baseline {
    async fn create(raw: &PgPool, run_id: &str) -> Result<Self, BenchError> {
        let table = format!("keel_bench_raw_{run_id}");
        // The columns of keel_events, with the keys every event table needs (the event id, one
        // event per stream version); no outbox, stream table, lock or notification.
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {table} ( \
               event_id       UUID        PRIMARY KEY, \
               stream_id      TEXT        NOT NULL, \
               stream_version BIGINT      NOT NULL, \
               event_type     TEXT        NOT NULL, \
               schema_version INTEGER     NOT NULL, \
               payload        JSONB       NOT NULL, \
               metadata       JSONB       NOT NULL, \
               occurred_at    TIMESTAMPTZ NOT NULL, \
               recorded_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), \
               UNIQUE (stream_id, stream_version))"
        )))
        .execute(raw)
        .await?;
        let insert_batch = format!(
            "INSERT INTO {table} (event_id, stream_id, stream_version, event_type, \
               schema_version, payload, metadata, occurred_at) \
             SELECT u.event_id, $1, u.stream_version, u.event_type, u.schema_version, \
               u.payload, u.metadata, u.occurred_at \
             FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::jsonb[], \
               $7::jsonb[], $8::timestamptz[]) \
               AS u(event_id, stream_version, event_type, schema_version, payload, metadata, occurred_at)"
        );
        let insert_one = format!(
            "INSERT INTO {table} (event_id, stream_id, stream_version, event_type, \
               schema_version, payload, metadata, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        Ok(Self {
            table,
            insert_batch: insert_batch.into(),
            insert_one: insert_one.into(),
        })
    }

    /// One batch to a new stream: a single `INSERT … SELECT FROM UNNEST` (its own transaction).
    async fn insert_batch(
        &self,
        raw: &PgPool,
        stream_id: &str,
        events: &[NewEvent],
    ) -> Result<(), BenchError> {
        let n = events.len();
        let mut ids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut schema_versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadatas = Vec::with_capacity(n);
        let mut occurred = Vec::with_capacity(n);
        for (v, e) in (1_i64..).zip(events) {
            ids.push(e.event_id);
            versions.push(v);
            types.push(e.event_type.as_str());
            schema_versions.push(i32::try_from(e.schema_version)?);
            payloads.push(Json(&e.payload));
            metadatas.push(Json(&e.metadata));
            occurred.push(e.occurred_at);
        }
        sqlx::query(AssertSqlSafe(Arc::clone(&self.insert_batch)))
            .bind(stream_id)
            .bind(&ids)
            .bind(&versions)
            .bind(&types)
            .bind(&schema_versions)
            .bind(&payloads)
            .bind(&metadatas)
            .bind(&occurred)
            .execute(raw)
            .await?;
        Ok(())
    }

    /// One event, as a single-row `INSERT` in its own transaction.
    async fn insert_one(
        &self,
        raw: &PgPool,
        stream_id: &str,
        version: u64,
        event: &NewEvent,
    ) -> Result<(), BenchError> {
        let mut tx = raw.begin().await?;
        sqlx::query(AssertSqlSafe(Arc::clone(&self.insert_one)))
            .bind(event.event_id)
            .bind(stream_id)
            .bind(i64::try_from(version)?)
            .bind(event.event_type.as_str())
            .bind(i32::try_from(event.schema_version)?)
            .bind(Json(&event.payload))
            .bind(Json(&event.metadata))
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The run's connections, its baseline table and the streams it wrote (for the cleanup).
struct Bench {
    store: PostgresStore,
    raw: PgPool,
    baseline: Arc<Baseline>,
    run_id: String,
    written: Vec<String>,
}

/// A deposit of 1 EUR, serialized by the ledger's own event type (`Deposited`, schema v3).
fn deposit() -> Result<NewEvent, BenchError> {
    Ok(NewEvent::from_domain(&LedgerEvent::Deposited {
        amount: 1,
        currency: "EUR".into(),
    })?)
}

fn deposits(n: usize) -> Result<Vec<NewEvent>, BenchError> {
    (0..n).map(|_| deposit()).collect()
}

fn bar(len: usize, message: String) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:<34} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .map_or_else(
        |_| ProgressStyle::default_bar(),
        |s| s.progress_chars("=> "),
    );
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_message(message)
}

#[allow(clippy::cast_precision_loss, reason = "event counts far below 2^52")]
fn per_second(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Which side of a comparison a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Keel,
    Raw,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Keel => "keel",
            Side::Raw => "raw sqlx",
        }
    }
}

impl Bench {
    async fn all(&mut self, report: &mut Report) -> Result<(), BenchError> {
        self.append_batched(report).await?;
        self.append_single(report).await?;
        self.loads(report).await
    }

    /// `batches` batches of `BATCH` events, each to its own new stream, by `WRITERS` tasks;
    /// returns the elapsed time.
    async fn batched(
        &mut self,
        side: Side,
        label: &str,
        batches: usize,
        show: bool,
    ) -> Result<Duration, BenchError> {
        let prefix = format!("bench-{}-{label}", self.run_id);
        if side == Side::Keel {
            self.written
                .extend((0..batches).map(|i| format!("{prefix}-{i}")));
        }
        let progress = if show {
            bar(batches * BATCH, format!("append_batched: {}", side.name()))
        } else {
            ProgressBar::hidden()
        };
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            let (next, prefix, progress) = (Arc::clone(&next), prefix.clone(), progress.clone());
            let (store, raw, baseline) = (
                self.store.clone(),
                self.raw.clone(),
                Arc::clone(&self.baseline),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= batches {
                        return Ok::<_, BenchError>(());
                    }
                    let stream = format!("{prefix}-{i}");
                    let events = deposits(BATCH)?;
                    match side {
                        Side::Keel => {
                            store
                                .append(&stream, ExpectedVersion::NoStream, events)
                                .await?;
                        }
                        Side::Raw => baseline.insert_batch(&raw, &stream, &events).await?,
                    }
                    progress.inc(BATCH as u64);
                }
            }));
        }
        for task in tasks {
            task.await??;
        }
        let elapsed = started.elapsed();
        progress.finish_and_clear();
        Ok(elapsed)
    }

    /// 1. Batched append throughput beside raw sqlx `INSERT … SELECT FROM UNNEST`.
    async fn append_batched(&mut self, report: &mut Report) -> Result<(), BenchError> {
        eprintln!(
            "core.append_batched: {BATCHED_ROUNDS} x {BATCHED_EVENTS_PER_ROUND} events per side, \
             {BATCH} per append, {WRITERS} tasks"
        );
        self.batched(Side::Keel, "warm", WARMUP_BATCHES, false)
            .await?;
        self.batched(Side::Raw, "warm", WARMUP_BATCHES, false)
            .await?;
        let batches = BATCHED_EVENTS_PER_ROUND / BATCH;
        let (mut keel, mut raw) = (Duration::ZERO, Duration::ZERO);
        // A-B-B-A, so that a drift (checkpoints, autovacuum, cache) weighs on both sides.
        let order = [Side::Keel, Side::Raw, Side::Raw, Side::Keel];
        for (round, side) in order
            .iter()
            .copied()
            .cycle()
            .take(2 * BATCHED_ROUNDS)
            .enumerate()
        {
            let elapsed = self
                .batched(side, &format!("r{round}"), batches, true)
                .await?;
            eprintln!(
                "  {:<8} {BATCHED_EVENTS_PER_ROUND} events in {:.2} s: {:.0} events/s",
                side.name(),
                elapsed.as_secs_f64(),
                per_second(BATCHED_EVENTS_PER_ROUND, elapsed)
            );
            match side {
                Side::Keel => keel += elapsed,
                Side::Raw => raw += elapsed,
            }
        }
        let total = BATCHED_EVENTS_PER_ROUND * BATCHED_ROUNDS;
        let value = per_second(total, keel);
        let baseline_value = per_second(total, raw);
        let ratio = value / baseline_value;
        report.record(Figure {
            bench: "core.append_batched",
            value,
            unit: "events/s",
            baseline: "raw sqlx INSERT…SELECT FROM UNNEST per batch into a plain logged table \
                       (PK event_id, UNIQUE stream_id+version)"
                .into(),
            baseline_value,
            goal: Some((
                ">= 100000 events/s and ratio >= 0.7".into(),
                value >= 100_000.0 && ratio >= 0.7,
            )),
            notes: format!(
                "{total} events per side in batches of {BATCH} (one new stream each, \
                 ExpectedVersion::NoStream), {WRITERS} concurrent tasks, {BATCHED_ROUNDS} rounds \
                 per side in A-B-B-A order after {WARMUP_BATCHES} warm-up batches; keel writes \
                 events + outbox rows + stream version under an advisory lock with NOTIFY"
            ),
        })?;
        Ok(())
    }

    /// 2. Single-event append latency beside a raw single-row `INSERT` in its own transaction.
    async fn append_single(&mut self, report: &mut Report) -> Result<(), BenchError> {
        eprintln!(
            "core.append_single: {SINGLES} sequential appends per side (interleaved), \
             after {WARMUP_SINGLES} warm-up"
        );
        let stream = format!("bench-{}-single", self.run_id);
        self.written.push(stream.clone());
        let progress = bar(WARMUP_SINGLES + SINGLES, "append_single: keel + raw".into());
        let mut keel = Vec::with_capacity(SINGLES);
        let mut raw = Vec::with_capacity(SINGLES);
        for i in 0..WARMUP_SINGLES + SINGLES {
            let version = u64::try_from(i)?;
            let ours = deposit()?;
            let theirs = deposit()?;
            let started = Instant::now();
            self.store
                .append(&stream, ExpectedVersion::Exact(version), vec![ours])
                .await?;
            let ours_took = started.elapsed();
            let started = Instant::now();
            self.baseline
                .insert_one(&self.raw, &stream, version + 1, &theirs)
                .await?;
            let theirs_took = started.elapsed();
            if i >= WARMUP_SINGLES {
                keel.push(ours_took);
                raw.push(theirs_took);
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        let baseline = "raw sqlx single-row INSERT in its own transaction (BEGIN, INSERT, COMMIT)";
        let notes = format!(
            "{SINGLES} sequential single-event appends to one stream with \
             ExpectedVersion::Exact, interleaved with the baseline's inserts, after \
             {WARMUP_SINGLES} warm-up each; synchronous_commit as configured"
        );
        let (p50, p50_raw) = (percentile_ms(&keel, 50.0), percentile_ms(&raw, 50.0));
        let (p99, p99_raw) = (percentile_ms(&keel, 99.0), percentile_ms(&raw, 99.0));
        report.record(Figure {
            bench: "core.append_single_p50_ms",
            value: p50,
            unit: "ms",
            baseline: format!("{baseline}, p50"),
            baseline_value: p50_raw,
            goal: None,
            notes: notes.clone(),
        })?;
        report.record(Figure {
            bench: "core.append_single_p99_ms",
            value: p99,
            unit: "ms",
            baseline: format!("{baseline}, p99"),
            baseline_value: p99_raw,
            goal: Some(("p99 < 5 ms".into(), p99 < 5.0)),
            notes,
        })?;
        Ok(())
    }

    /// Builds a `STREAM_LEN`-event stream through `repo`: 99 events appended directly, then one
    /// command executed through the repository, per hundred, so that a repository with
    /// `SnapshotPolicy::every(100)` takes each snapshot itself (from its own load and fold).
    async fn build_stream(
        &mut self,
        repo: &Repository<Ledger, PostgresStore>,
        stream: &str,
        label: &str,
    ) -> Result<(), BenchError> {
        self.written.push(stream.to_owned());
        let progress = bar(
            usize::try_from(STREAM_LEN)?,
            format!("build stream: {label}"),
        );
        for hundred in 0..STREAM_LEN / SNAPSHOT_EVERY {
            let direct = usize::try_from(SNAPSHOT_EVERY - 1)?;
            repo.store()
                .append(
                    stream,
                    ExpectedVersion::Exact(hundred * SNAPSHOT_EVERY),
                    deposits(direct)?,
                )
                .await?;
            repo.execute(stream, LedgerCommand::Deposit(1), Metadata::default())
                .await
                .map_err(|e| format!("execute on {stream}: {e}"))?;
            progress.inc(SNAPSHOT_EVERY);
        }
        progress.finish_and_clear();
        Ok(())
    }

    async fn snapshot_count(&self, stream: &str) -> Result<i64, BenchError> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM keel_snapshots WHERE stream_id = $1")
                .bind(stream)
                .fetch_one(&self.raw)
                .await?,
        )
    }

    /// The recorded time of the event at `version`.
    async fn recorded_at(&self, stream: &str, version: u64) -> Result<DateTime<Utc>, BenchError> {
        let events = self
            .store
            .read_stream(stream, StreamQuery::from_version(version).limit(1))
            .await?;
        Ok(events
            .first()
            .ok_or_else(|| format!("{stream} has no event {version}"))?
            .recorded_at)
    }

    /// 3 and 4. Loading the 10,000-event stream, now and at a time in its middle, with
    /// snapshots every 100 events beside the same loads of a stream without snapshots.
    async fn loads(&mut self, report: &mut Report) -> Result<(), BenchError> {
        eprintln!(
            "core.load: two {STREAM_LEN}-event streams (snapshots every {SNAPSHOT_EVERY} / none), \
             {LOADS} loads each after {WARMUP_LOADS} warm-up"
        );
        let snapshots = Repository::<Ledger, _>::new(self.store.clone())
            .with_snapshots(SnapshotPolicy::every(SNAPSHOT_EVERY));
        let plain = Repository::<Ledger, _>::new(self.store.clone());
        let snap_stream = format!("bench-{}-ledger-snap", self.run_id);
        let plain_stream = format!("bench-{}-ledger-plain", self.run_id);
        self.build_stream(&snapshots, &snap_stream, "snapshots every 100")
            .await?;
        self.build_stream(&plain, &plain_stream, "no snapshots")
            .await?;
        let (taken, none) = (
            self.snapshot_count(&snap_stream).await?,
            self.snapshot_count(&plain_stream).await?,
        );
        let expected = i64::try_from(STREAM_LEN / SNAPSHOT_EVERY)?;
        if taken != expected || none != 0 {
            return Err(format!(
                "expected {expected} snapshots taken by the repository and none on the plain \
                 stream, found {taken} and {none}"
            )
            .into());
        }
        let balance = i64::try_from(STREAM_LEN)?;

        // 3. load of the whole stream.
        let check_now = |snapshot: Option<u64>| {
            move |l: &keel_core::repository::Loaded<Ledger>| {
                l.version == STREAM_LEN
                    && l.state.balance == balance
                    && l.snapshot_version == snapshot
            }
        };
        let (snap_ms, snap_read) = timed_loads(
            "load 10k: snapshots",
            || snapshots.load(&snap_stream),
            check_now(Some(STREAM_LEN)),
        )
        .await?;
        let (plain_ms, plain_read) = timed_loads(
            "load 10k: no snapshots",
            || plain.load(&plain_stream),
            check_now(None),
        )
        .await?;
        let (p50, p50_plain) = (
            percentile_ms(&snap_ms, 50.0),
            percentile_ms(&plain_ms, 50.0),
        );
        report.record(Figure {
            bench: "core.load_10k_snapshot_p50_ms",
            value: p50,
            unit: "ms",
            baseline: "the same load without snapshots (core.load_10k_nosnapshot_p50_ms)".into(),
            baseline_value: p50_plain,
            goal: Some(("< 1 ms".into(), p50 < 1.0)),
            notes: format!(
                "Repository<Ledger, PostgresStore>::load of a {STREAM_LEN}-event stream, \
                 SnapshotPolicy::every({SNAPSHOT_EVERY}) (snapshots taken by the repository), \
                 p50 of {LOADS}; {snap_read} event(s) read after the newest snapshot (at the \
                 head) vs {plain_read} without; p99 {:.3} ms vs {:.3} ms",
                percentile_ms(&snap_ms, 99.0),
                percentile_ms(&plain_ms, 99.0)
            ),
        })?;

        // 4. load_at a time in the middle.
        let at_snap = self.recorded_at(&snap_stream, AT_VERSION).await?;
        let at_plain = self.recorded_at(&plain_stream, AT_VERSION).await?;
        let floor = AT_VERSION / SNAPSHOT_EVERY * SNAPSHOT_EVERY;
        let check_at = |snapshot: Option<u64>| {
            move |l: &keel_core::repository::Loaded<Ledger>| {
                l.version >= AT_VERSION
                    && l.version < floor + SNAPSHOT_EVERY
                    && l.state.balance == i64::try_from(l.version).unwrap_or(-1)
                    && l.snapshot_version == snapshot
            }
        };
        let (snap_ms, snap_read) = timed_loads(
            "load_at: snapshots",
            || snapshots.load_at(&snap_stream, at_snap),
            check_at(Some(floor)),
        )
        .await?;
        let (plain_ms, plain_read) = timed_loads(
            "load_at: no snapshots",
            || plain.load_at(&plain_stream, at_plain),
            check_at(None),
        )
        .await?;
        let (p50, p50_plain) = (
            percentile_ms(&snap_ms, 50.0),
            percentile_ms(&plain_ms, 50.0),
        );
        report.record(Figure {
            bench: "core.load_at_p50_ms",
            value: p50,
            unit: "ms",
            baseline: "the same load_at without snapshots".into(),
            baseline_value: p50_plain,
            goal: Some(("< 5 ms".into(), p50 < 5.0)),
            notes: format!(
                "Repository::load_at the recorded time of event {AT_VERSION} of the \
                 {STREAM_LEN}-event stream, p50 of {LOADS}: from the snapshot at {floor} \
                 ({snap_read} event(s) folded) vs from the start ({plain_read} folded); \
                 p99 {:.3} ms vs {:.3} ms",
                percentile_ms(&snap_ms, 99.0),
                percentile_ms(&plain_ms, 99.0)
            ),
        })?;
        Ok(())
    }

    /// Publishes (deletes) the run's outbox rows, so no relay or test finds them pending, and
    /// drops the baseline table. The events, stream versions and snapshots stay under their
    /// unique stream ids: the event store has no retention yet, and a benchmark is not where to
    /// invent one.
    async fn cleanup(&self) -> Result<(), BenchError> {
        let streams = &self.written;
        let outbox = sqlx::query("DELETE FROM keel_outbox_ranges WHERE stream_id = ANY($1)")
            .bind(streams)
            .execute(&self.raw)
            .await?
            .rows_affected();
        sqlx::query(AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            self.baseline.table
        )))
        .execute(&self.raw)
        .await?;
        eprintln!(
            "core: cleaned up: {outbox} outbox rows of the run's {} streams (prefix bench-{}-) \
             published, {} dropped",
            streams.len(),
            self.run_id,
            self.baseline.table
        );
        Ok(())
    }
}

/// `WARMUP_LOADS` then `LOADS` timed calls of `load`, each checked by `ok`; returns the
/// durations and how many events the last load read from the store.
async fn timed_loads<F, Fut>(
    label: &str,
    load: F,
    ok: impl Fn(&keel_core::repository::Loaded<Ledger>) -> bool,
) -> Result<(Vec<Duration>, usize), BenchError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = keel_core::Result<keel_core::repository::Loaded<Ledger>>>,
{
    let progress = bar(WARMUP_LOADS + LOADS, label.to_owned());
    let mut took = Vec::with_capacity(LOADS);
    let mut read = 0;
    for i in 0..WARMUP_LOADS + LOADS {
        let started = Instant::now();
        let loaded = load().await?;
        let elapsed = started.elapsed();
        if !ok(&loaded) {
            return Err(format!(
                "{label}: unexpected load: version {}, balance {}, snapshot {:?}",
                loaded.version, loaded.state.balance, loaded.snapshot_version
            )
            .into());
        }
        if i >= WARMUP_LOADS {
            took.push(elapsed);
        }
        read = loaded.events_read;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((took, read))
}
