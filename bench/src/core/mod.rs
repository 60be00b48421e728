//! The core's benchmarks, on the PostgreSQL of the local stack: batched append throughput,
//! single-append latency, loading a 10,000-event stream with and without snapshots, and the
//! state at a time in the middle of it. Every figure has a raw-sqlx (or no-snapshot) baseline
//! measured in the same run.
//!
//! Every run works in a database of its own (`keel_bench_core_<run>`, dropped at the end): the
//! event store's tables and the baseline's table start empty in the same database, so both sides
//! of a comparison write to tables of the same age, and the run leaves nothing behind (no
//! pending outbox rows, no events in the shared database).
//!
//! Files: `baseline.rs` (the raw table and its inserts), `append.rs` (figures 1 and 2),
//! `load.rs` (figures 3 and 4).

mod append;
mod baseline;
mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_core::NewEvent;
use keel_core::store::PostgresStore;
use keel_core::testing::conformance::LedgerEvent;
use keel_core::testing::stack;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::BenchError;
use crate::report::Report;
use crate::support::TempDatabase;
use baseline::Baseline;

/// Runs the core's benchmarks and records their figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let pg = stack::postgres().require();
    let run_id = crate::support::run_id();
    let db = TempDatabase::create(&pg.url, &format!("keel_bench_core_{run_id}")).await?;
    eprintln!("core: run {run_id}: database {} on {}", db.name(), pg.addr);
    let started = Instant::now();
    let outcome = measure(report, &db.url, run_id).await;
    let dropped = db.drop_database().await;
    eprintln!(
        "core: database {} dropped; done in {:.1} s",
        db.name(),
        started.elapsed().as_secs_f64()
    );
    outcome?;
    dropped
}

async fn measure(report: &mut Report, url: &str, run_id: String) -> Result<(), BenchError> {
    let store = PostgresStore::connect(url).await?;
    let raw = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    let bench = Bench {
        store,
        baseline: Arc::new(Baseline::create(&raw).await?),
        raw,
        run_id,
    };
    let outcome = bench.all(report).await;
    bench.store.pool().close().await;
    bench.raw.close().await;
    outcome
}

/// The run's connections and its baseline table.
struct Bench {
    store: PostgresStore,
    raw: PgPool,
    baseline: Arc<Baseline>,
    run_id: String,
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
    async fn all(&self, report: &mut Report) -> Result<(), BenchError> {
        self.append_batched(report).await?;
        self.append_single(report).await?;
        self.loads(report).await
    }
}
