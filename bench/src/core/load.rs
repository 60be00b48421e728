//! 3 and 4: loading a 10,000-event stream, now and at a time in its middle, with snapshots
//! every 100 events beside the same loads of a stream without snapshots.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keel_core::store::{PostgresStore, StreamQuery};
use keel_core::testing::conformance::{Ledger, LedgerCommand};
use keel_core::{EventStore as _, ExpectedVersion, Metadata, Repository, SnapshotPolicy};

use super::{Bench, deposits};
use crate::BenchError;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;
use crate::support::bar;

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

impl Bench {
    /// Builds a `STREAM_LEN`-event stream through `repo`: 99 events appended directly, then one
    /// command executed through the repository, per hundred, so that a repository with
    /// `SnapshotPolicy::every(100)` takes each snapshot itself (from its own load and fold).
    async fn build_stream(
        &self,
        repo: &Repository<Ledger, PostgresStore>,
        stream: &str,
        label: &str,
    ) -> Result<(), BenchError> {
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
    pub(super) async fn loads(&self, report: &mut Report) -> Result<(), BenchError> {
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
