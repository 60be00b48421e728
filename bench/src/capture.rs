//! keel-capture's benchmarks, against Debezium's own MariaDB connector (Kafka Connect
//! standalone, `make up DEBEZIUM=1`) in the same run, on the MariaDB and Kafka of the local
//! stack:
//!
//! - bulk: rows/s MariaDB → Kafka (acknowledged) for one `INSERT…SELECT` transaction of
//!   1,000,000 rows;
//! - small transactions/s for 100,000 single-row UPDATEs, each its own transaction;
//! - for both, ours against our own reader with a null sink ([`keel_capture::Capture::null_sink`]:
//!   binlog read, decoded, mapped and serialized, nothing sent): the share of the raw rate;
//! - commit → Kafka latency p99 at 10,000 rows/s (100-row transactions every 10 ms).
//!
//! Both connectors catch up over the same stretch of binlog: Debezium is paused (Connect's
//! `PUT /connectors/…/pause`) while the load is written and timed from its resume until its
//! topic holds every record; ours starts at the position before the load and is timed until
//! Kafka acknowledged its last record. Sizes: `KEEL_BENCH_CAPTURE_ROWS`,
//! `KEEL_BENCH_CAPTURE_UPDATES`, `KEEL_BENCH_CAPTURE_LATENCY_SECS` scale a run down. The run
//! drops its database and deletes its topics at the end.

mod connect;
mod kafka;
mod load;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use keel_capture::offsets::Offset;
use keel_capture::{Capture, ConnectorConfig};
use keel_core::testing::stack;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::BenchError;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;
use connect::Connector;

/// Rows of the bulk transaction.
const ROWS: u64 = 1_000_000;
/// Single-row UPDATE transactions.
const UPDATES: u64 = 100_000;
/// Rows of the table the UPDATEs cycle through.
const SMALL_ROWS: u64 = 10_000;
/// Seconds of paced load per connector for the latency figure.
const LATENCY_SECS: u64 = 10;
/// The pause before each timed run ([`settle`]).
const SETTLE: Duration = Duration::from_secs(2);
/// How long a connector may make no progress before the run fails.
const STALL: Duration = Duration::from_secs(120);

/// The run's sizes: the by default, smaller through the environment.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    rows: u64,
    updates: u64,
    latency_secs: u64,
}

impl Sizes {
    fn from_env() -> Result<Self, BenchError> {
        let get = |var: &str, default: u64| -> Result<u64, BenchError> {
            match std::env::var(var) {
                Ok(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{var}={v}: expected a positive integer").into()),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            rows: get("KEEL_BENCH_CAPTURE_ROWS", ROWS)?,
            updates: get("KEEL_BENCH_CAPTURE_UPDATES", UPDATES)?,
            latency_secs: get("KEEL_BENCH_CAPTURE_LATENCY_SECS", LATENCY_SECS)?,
        })
    }
}

/// Runs the capture benchmarks and records their figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let sizes = Sizes::from_env()?;
    let root_url = stack::mariadb_root().require().url;
    stack::mariadb().require();
    let brokers = stack::kafka().require().url;
    let connect_url = stack::connect().require().url;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let db = format!("keel_bench_cap_{run_id}");
    let dir = std::env::temp_dir().join(format!("keel-bench-capture-{run_id}"));
    std::fs::create_dir_all(&dir)?;
    let mut root = load::connect(&root_url).await?;
    eprintln!(
        "capture: run {run_id}, database {db}, {} bulk rows, {} small transactions, {} s of paced load per connector",
        sizes.rows, sizes.updates, sizes.latency_secs
    );
    load::create_tables(&mut root, &db, SMALL_ROWS).await?;
    let mut bench = Bench {
        sizes,
        root,
        root_url,
        brokers,
        connect_url,
        ours: format!("benchk{run_id}"),
        theirs: format!("benchd{run_id}"),
        db,
        dir,
        runs: 0,
        debezium: None,
    };
    let started = Instant::now();
    let outcome = bench.all(report).await;
    let cleaned = bench.cleanup().await;
    eprintln!("capture: done in {:.1} s", started.elapsed().as_secs_f64());
    outcome?;
    cleaned
}

struct Bench {
    sizes: Sizes,
    root: Conn,
    root_url: String,
    brokers: String,
    connect_url: String,
    /// Our topic prefix and Debezium's.
    ours: String,
    theirs: String,
    db: String,
    dir: PathBuf,
    /// Our runs so far (each gets its own offsets file).
    runs: u32,
    debezium: Option<Connector>,
}

/// Rates measured for one load: ours, Debezium's, our null sink's.
struct Rates {
    ours: f64,
    theirs: f64,
    null: f64,
}

fn bar(len: u64, message: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:<34} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .map_or_else(
        |_| ProgressStyle::default_bar(),
        |s| s.progress_chars("=> "),
    );
    let bar = ProgressBar::new(len)
        .with_style(style)
        .with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A pause before each timed run, so that none starts while the last one's processes (the
/// load's, Debezium's Connect JVM after its run, the broker) are still busy on the 2 cores.
async fn settle() {
    tokio::time::sleep(SETTLE).await;
}

#[allow(clippy::cast_precision_loss, reason = "counts per second")]
fn per_sec(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

impl Bench {
    async fn all(&mut self, report: &mut Report) -> Result<(), BenchError> {
        let lat_topics = vec![
            self.topic(&self.ours, "lat"),
            self.topic(&self.theirs, "lat"),
        ];
        kafka::create_log_append_topics(&self.brokers, &lat_topics).await?;
        self.start_debezium().await?;
        let version = match &self.debezium {
            Some(d) => d.version().await?,
            None => "?".to_owned(),
        };
        let baseline = format!("Debezium {version}, Kafka Connect standalone, same binlog");

        let bulk = self.bulk().await?;
        let rows = self.sizes.rows;
        let note = format!(
            "{rows}-row INSERT…SELECT in one transaction; MariaDB → Kafka acknowledged; Debezium paused during the load, timed from resume"
        );
        report.record(Figure {
            bench: "capture.bulk_rows",
            value: bulk.ours,
            unit: "rows/s",
            baseline: baseline.clone(),
            baseline_value: bulk.theirs,
            goal: Some((
                "≥ 150,000 rows/s and ≥ 5× Debezium".into(),
                bulk.ours >= 150_000.0 && bulk.ours >= 5.0 * bulk.theirs,
            )),
            notes: note.clone(),
        })?;
        report.record(Figure {
            bench: "capture.bulk_share_of_raw_decode",
            value: bulk.ours,
            unit: "rows/s",
            baseline: "our reader with a null sink (Capture::null_sink)".into(),
            baseline_value: bulk.null,
            goal: Some(("share ≥ 0.5".into(), bulk.ours >= 0.5 * bulk.null)),
            notes: note,
        })?;

        let small = self.small().await?;
        let note = format!(
            "{} single-row UPDATEs, each its own transaction, from 4 connections; Debezium paused during the load, timed from resume",
            self.sizes.updates
        );
        report.record(Figure {
            bench: "capture.small_txns",
            value: small.ours,
            unit: "txns/s",
            baseline,
            baseline_value: small.theirs,
            goal: Some((
                "≥ 50,000 txns/s and ≥ 5× Debezium".into(),
                small.ours >= 50_000.0 && small.ours >= 5.0 * small.theirs,
            )),
            notes: note.clone(),
        })?;
        report.record(Figure {
            bench: "capture.small_share_of_raw_decode",
            value: small.ours,
            unit: "txns/s",
            baseline: "our reader with a null sink (Capture::null_sink)".into(),
            baseline_value: small.null,
            goal: Some(("share ≥ 0.5".into(), small.ours >= 0.5 * small.null)),
            notes: note,
        })?;

        self.latency(report, &version).await
    }

    fn topic(&self, prefix: &str, table: &str) -> String {
        format!("{prefix}.{}.{table}", self.db)
    }

    /// The connector configuration both run with (Debezium's keys), for `prefix`.
    fn props(&self, prefix: &str, server_id: u64) -> BTreeMap<String, String> {
        let history = format!("{prefix}.schema-history");
        let server_id = server_id.to_string();
        [
            (
                "connector.class",
                "io.debezium.connector.mariadb.MariaDbConnector",
            ),
            ("tasks.max", "1"),
            ("database.hostname", "127.0.0.1"),
            ("database.port", "3306"),
            ("database.user", "keel"),
            ("database.password", "keel"),
            ("database.server.id", server_id.as_str()),
            ("topic.prefix", prefix),
            ("database.include.list", self.db.as_str()),
            ("snapshot.mode", "no_data"),
            ("include.schema.changes", "false"),
            (
                "schema.history.internal.kafka.bootstrap.servers",
                self.brokers.as_str(),
            ),
            ("schema.history.internal.kafka.topic", history.as_str()),
            (
                "schema.history.internal.store.only.captured.databases.ddl",
                "true",
            ),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// Where the next load starts: the start of a new binlog file, with its GTID position.
    ///
    /// A connector that starts at a file position, as ours does in each timed run, makes the
    /// server read that file from its beginning twice (for `BINLOG_GTID_POS`, and for the
    /// dump thread's GTID state): about 90 ms per 200 MB, which the binlog of earlier loads
    /// would add to every run. Debezium, already running and only resumed, pays neither. A
    /// fresh file, and the GTID position given as a stored offset would give it, keep our
    /// timed run to what it reads. A real connector resumes from its stored offset, which
    /// carries the GTID position.
    async fn position(&mut self) -> Result<Offset, BenchError> {
        self.root.query_drop("FLUSH BINARY LOGS").await?;
        const GTIDS: &str = "SELECT @@gtid_binlog_pos";
        let before: Option<String> = self.root.query_first(GTIDS).await?;
        let row: Option<mysql_async::Row> = self.root.query_first("SHOW MASTER STATUS").await?;
        let after: Option<String> = self.root.query_first(GTIDS).await?;
        let missing = "SHOW MASTER STATUS returned nothing: is log_bin on? (run make up)";
        let row = row.ok_or(missing)?;
        let file = row.get_opt::<String, _>(0).ok_or(missing)??;
        let pos = row.get_opt::<u64, _>(1).ok_or(missing)??;
        let mut offset = Offset::at(file, pos);
        // Only when nothing was written meanwhile; otherwise capture looks it up.
        if before == after {
            offset.gtid_position = after.filter(|g| !g.is_empty());
        }
        Ok(offset)
    }

    fn debezium(&self) -> Result<&Connector, BenchError> {
        self.debezium
            .as_ref()
            .ok_or_else(|| "Debezium is not registered".into())
    }

    /// Registers Debezium (`no_data`) and waits until it streams: rows into `ready`, one by
    /// one, until one comes out of its topic.
    async fn start_debezium(&mut self) -> Result<(), BenchError> {
        let props = self.props(&self.theirs, 2_100_000 + u64::from(rand_u16()));
        let connector = Connector::register(&self.connect_url, &self.theirs, &props).await?;
        self.debezium = Some(connector);
        let topic = self.topic(&self.theirs, "ready");
        let counter = kafka::counter(&self.brokers)?;
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0.. {
            self.root
                .query_drop(format!("INSERT INTO {}.ready VALUES ({i})", self.db))
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            if kafka::count(&counter, &topic) > 0 {
                break;
            }
            self.debezium()?.check().await?;
            if Instant::now() > deadline {
                return Err(format!("Debezium did not stream {topic} within 90 s").into());
            }
        }
        Ok(())
    }

    /// Times Debezium catching up from its resume until `table`'s topic holds `expected` records.
    async fn time_debezium(&self, table: &str, expected: u64) -> Result<f64, BenchError> {
        let counter = kafka::counter(&self.brokers)?;
        let topic = self.topic(&self.theirs, table);
        let bar = bar(expected, "Debezium catching up");
        settle().await;
        let started = Instant::now();
        self.debezium()?.resume().await?;
        let done = kafka::wait_for_count(&counter, &topic, expected, &bar, STALL).await;
        bar.finish_and_clear();
        let took = done?.duration_since(started);
        self.debezium()?.check().await?;
        Ok(per_sec(expected, took))
    }

    /// Times our capture from `start` to the binlog end (null sink or Kafka), `expected`
    /// records on `table`'s topic.
    async fn time_ours(
        &mut self,
        start: &Offset,
        table: &str,
        expected: u64,
        null: bool,
    ) -> Result<f64, BenchError> {
        let capture = self
            .capture(null)?
            .start_at(start.clone())
            .exit_at_end(true);
        settle().await;
        let message = if null {
            "ours, null sink"
        } else {
            "ours catching up"
        };
        let bar = bar(expected, message);
        let (topic, brokers) = (self.topic(&self.ours, table), self.brokers.clone());
        let ticker = (!null).then(|| {
            let bar = bar.clone();
            tokio::spawn(async move {
                let Ok(counter) = kafka::counter(&brokers) else {
                    return;
                };
                loop {
                    bar.set_position(kafka::count(&counter, &topic));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        });
        let started = Instant::now();
        let summary = capture.run().await;
        let took = started.elapsed();
        if let Some(t) = ticker {
            t.abort();
        }
        bar.finish_and_clear();
        let summary = summary?;
        if summary.records_sent < expected {
            return Err(format!(
                "our capture sent {} of {expected} records",
                summary.records_sent
            )
            .into());
        }
        Ok(per_sec(expected, took))
    }

    /// A capture with our prefix and a fresh offsets file.
    fn capture(&mut self, null: bool) -> Result<Capture, BenchError> {
        self.runs += 1;
        let mut props = self.props(&self.ours, 3_100_000 + u64::from(rand_u16()));
        let offsets = self.dir.join(format!("run{}.offsets.json", self.runs));
        props.insert(
            "offset.storage.file.filename".into(),
            offsets.display().to_string(),
        );
        let config = ConnectorConfig::from_properties("keel-bench", &props)?.config;
        Ok(Capture::new(config).show_progress(false).null_sink(null))
    }

    async fn bulk(&mut self) -> Result<Rates, BenchError> {
        let rows = self.sizes.rows;
        self.debezium()?.pause().await?;
        let start = self.position().await?;
        let load = bar(rows, "bulk INSERT…SELECT (1 txn)");
        load::bulk(&mut self.root, &self.db, rows, &load).await?;
        load.finish_and_clear();
        let theirs = self.time_debezium("bulk", rows).await?;
        eprintln!("capture: bulk, Debezium {theirs:.0} rows/s");
        let ours = self.time_ours(&start, "bulk", rows, false).await?;
        eprintln!("capture: bulk, ours {ours:.0} rows/s");
        let null = self.time_ours(&start, "bulk", rows, true).await?;
        eprintln!("capture: bulk, ours with a null sink {null:.0} rows/s");
        Ok(Rates { ours, theirs, null })
    }

    async fn small(&mut self) -> Result<Rates, BenchError> {
        let n = self.sizes.updates;
        self.debezium()?.pause().await?;
        let start = self.position().await?;
        let load = bar(n, "single-row UPDATE transactions");
        load::small_updates(&self.root_url, &self.db, n, SMALL_ROWS, &load).await?;
        load.finish_and_clear();
        let theirs = self.time_debezium("small", n).await?;
        eprintln!("capture: small, Debezium {theirs:.0} txns/s");
        let ours = self.time_ours(&start, "small", n, false).await?;
        eprintln!("capture: small, ours {ours:.0} txns/s");
        let null = self.time_ours(&start, "small", n, true).await?;
        eprintln!("capture: small, ours with a null sink {null:.0} txns/s");
        Ok(Rates { ours, theirs, null })
    }

    /// Commit → Kafka append at 10,000 rows/s: Debezium live first, then (Debezium deleted)
    /// ours live.
    async fn latency(&mut self, report: &mut Report, version: &str) -> Result<(), BenchError> {
        let secs = self.sizes.latency_secs;
        let load = bar(secs * 10_000, "paced 10,000 rows/s, Debezium");
        let (commits, theirs_rate) = load::paced(&mut self.root, &self.db, 1, secs, &load).await?;
        load.finish_and_clear();
        let theirs = kafka::latencies_ms(
            &self.brokers,
            &self.topic(&self.theirs, "lat"),
            commits.len(),
            &commits,
        )?;
        if let Some(d) = self.debezium.take() {
            d.delete().await?;
        }

        let start = self.position().await?;
        let expected = secs * 10_000;
        let capture = self
            .capture(false)?
            .start_at(start)
            .stop_after_records(expected);
        let live = tokio::spawn(capture.run());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let load = bar(expected, "paced 10,000 rows/s, ours");
        let (commits, ours_rate) =
            load::paced(&mut self.root, &self.db, 100_000_000, secs, &load).await?;
        load.finish_and_clear();
        live.await
            .map_err(|e| format!("our capture panicked: {e}"))??;
        let ours = kafka::latencies_ms(
            &self.brokers,
            &self.topic(&self.ours, "lat"),
            commits.len(),
            &commits,
        )?;

        let ours_p99 = percentile_of(&ours, 99.0);
        report.record(Figure {
            bench: "capture.commit_to_kafka_p99",
            value: ours_p99,
            unit: "ms",
            baseline: format!("Debezium {version}, same load"),
            baseline_value: percentile_of(&theirs, 99.0),
            goal: Some(("p99 < 50 ms".into(), ours_p99 < 50.0)),
            notes: format!(
                "{} rows per connector in 100-row transactions every 10 ms (achieved {ours_rate:.0} rows/s ours, {theirs_rate:.0} Debezium's); from just before COMMIT to the broker's LogAppendTime; p50 {:.1} ms ours, {:.1} ms Debezium's",
                commits.len(),
                percentile_of(&ours, 50.0),
                percentile_of(&theirs, 50.0)
            ),
        })?;
        Ok(())
    }

    async fn cleanup(mut self) -> Result<(), BenchError> {
        if let Some(d) = self.debezium.take() {
            d.delete().await?;
        }
        self.root
            .query_drop(format!("DROP DATABASE IF EXISTS {}", self.db))
            .await?;
        let mut topics = Vec::new();
        for prefix in [&self.ours, &self.theirs] {
            for table in ["bulk", "small", "lat", "ready"] {
                topics.push(self.topic(prefix, table));
            }
            topics.push(format!("{prefix}.schema-history"));
        }
        topics.push(self.theirs.clone());
        kafka::delete_topics(&self.brokers, &topics).await?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

fn rand_u16() -> u16 {
    (uuid::Uuid::new_v4().as_u128() & 0xffff) as u16
}

/// The `p`-th percentile of millisecond samples (nearest rank).
fn percentile_of(ms: &[f64], p: f64) -> f64 {
    let samples: Vec<Duration> = ms
        .iter()
        .map(|m| Duration::from_secs_f64(m.max(0.0) / 1e3))
        .collect();
    percentile_ms(&samples, p)
}
