//! `make bench BENCH=sagas`: three-step orchestrated sagas with their state in PostgreSQL
//! (`PostgresSagaStore`) and Kafka between the coordinator and three participants
//! (`KafkaTransport`, `consume_replies`, `serve_participant`), all in this process but talking
//! through the real broker, as the sagas issue (#6) asks:
//!
//! - completed sagas/s with a window of sagas in flight, beside the raw rate of the
//!   coordinator's and participants' own writes (the same inserts and updates with sqlx, no saga
//!   logic), the baseline, and beside the same writes with the same Kafka hops done with
//!   rdkafka directly;
//! - saga duration (start → completed, durable) p50/p99 at a fixed start rate (500/s, the
//!   issue's), beside the raw Kafka + writes pipeline at the same rate;
//! - compensated sagas/s (the last step refuses, the two before are compensated in reverse),
//!   beside the raw rate of the same writes.
//!
//! Every run works in a database of its own (`keel_bench_sagas_<run>`, dropped at the end) and
//! on topics and consumer groups of its own (`keel-bench-<run>-…`, deleted at the end). Sizes:
//! `KEEL_BENCH_SAGAS_COUNT` (3000), `KEEL_BENCH_SAGAS_WINDOW` (256 in flight),
//! `KEEL_BENCH_SAGAS_RATE` (500/s), `KEEL_BENCH_SAGAS_SECONDS` (10),
//! `KEEL_BENCH_SAGAS_COMPENSATIONS` (1000), `KEEL_BENCH_SAGAS_PARTITIONS` (8 partitions per
//! topic, one consumer per partition per group).

mod drive;
mod figures;
mod observed;
mod raw;
mod setup;

use std::sync::Arc;
use std::time::Instant;

use keel_core::testing::stack;
use serde_json::json;
use tokio::sync::mpsc;

use crate::BenchError;
use crate::report::Report;
use crate::support::{
    TempDatabase, create_topics, delete_groups, delete_topics, env_f64, env_usize,
};
use drive::{Pace, Phase, drive};
use observed::Finished;
use raw::{RawPipeline, RawTopics, RawWrites};
use setup::{Deployment, STEPS, Topics};

/// The sizes of a run, from the environment.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    sagas: usize,
    window: usize,
    rate: f64,
    seconds: f64,
    compensations: usize,
    partitions: usize,
    consumers: usize,
    warmup: usize,
}

impl Sizes {
    fn from_env() -> Self {
        Self {
            sagas: env_usize("KEEL_BENCH_SAGAS_COUNT", 3000).max(1),
            window: env_usize("KEEL_BENCH_SAGAS_WINDOW", 256).max(1),
            rate: env_f64("KEEL_BENCH_SAGAS_RATE", 500.0),
            seconds: env_f64("KEEL_BENCH_SAGAS_SECONDS", 10.0),
            compensations: env_usize("KEEL_BENCH_SAGAS_COMPENSATIONS", 1000).max(1),
            partitions: env_usize("KEEL_BENCH_SAGAS_PARTITIONS", 8).clamp(1, 64),
            consumers: env_usize("KEEL_BENCH_SAGAS_CONSUMERS", 8).clamp(1, 64),
            warmup: 300,
        }
    }

    /// Sagas started in the latency phase.
    fn timed(&self) -> usize {
        self.timed_at(self.rate)
    }

    /// Sagas started in a latency phase at `rate`.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive rate times seconds"
    )]
    fn timed_at(&self, rate: f64) -> usize {
        (rate * self.seconds).round().max(1.0) as usize
    }
}

/// Runs the benchmark and records its figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let pg = stack::postgres().require();
    let kafka = stack::kafka().require();
    let sizes = Sizes::from_env();
    let run = crate::support::run_id();
    let db = TempDatabase::create(&pg.url, &format!("keel_bench_sagas_{run}")).await?;
    let topics = Topics::new(&run);
    eprintln!(
        "sagas: run {run}: database {}, topics keel-bench-{run}-*, {} partitions each",
        db.name(),
        sizes.partitions
    );
    let started = Instant::now();
    let partitions = i32::try_from(sizes.partitions)?;
    let outcome = match create_topics(&kafka.url, &topics.all(), partitions).await {
        Ok(()) => measure(report, sizes, &db, &kafka.url, &topics).await,
        Err(e) => Err(e),
    };
    let deleted = delete_topics(&kafka.url, &topics.with_dead_letters()).await;
    let groups = delete_groups(&kafka.url, &topics.groups()).await;
    let dropped = db.drop_database().await;
    eprintln!(
        "sagas: cleaned up: {} topic(s) and {} consumer group(s) deleted, database {} dropped; \
         done in {:.1} s",
        deleted.as_ref().map_or(0, |n| *n),
        groups.as_ref().map_or(0, |n| *n),
        db.name(),
        started.elapsed().as_secs_f64()
    );
    outcome?;
    deleted?;
    groups?;
    dropped
}

/// What the phases measured.
struct Measured {
    keel: Phase,
    raw_writes: Phase,
    keel_timed: Phase,
    pipeline: Phase,
    pipeline_timed: Phase,
    /// Half the throughput keel reached: a rate it sustains.
    light_rate: f64,
    keel_light: Phase,
    pipeline_light: Phase,
    compensated: Phase,
    raw_compensated: Phase,
    metrics: keel_sagas::MetricsSnapshot,
}

async fn measure(
    report: &mut Report,
    sizes: Sizes,
    db: &TempDatabase,
    brokers: &str,
    topics: &Topics,
) -> Result<(), BenchError> {
    let (mut deployment, mut finished) =
        Deployment::start(&db.url, brokers, topics, sizes.consumers).await?;
    let outcome = phases(&mut deployment, &mut finished, sizes, brokers, topics).await;
    deployment.stop().await;
    let measured = outcome?;
    figures::record(report, sizes, &measured)
}

async fn phases(
    d: &mut Deployment,
    finished: &mut mpsc::UnboundedReceiver<Finished>,
    sizes: Sizes,
    brokers: &str,
    topics: &Topics,
) -> Result<Measured, BenchError> {
    let window = Pace::Window(sizes.window);
    let ok = json!({ "sku": "A-1", "quantity": 2, "total_cents": 4200, "fail": false });
    let refused = json!({ "sku": "A-1", "quantity": 2, "total_cents": 4200, "fail": true });
    eprintln!(
        "sagas: warm-up ({} sagas; consumer groups settle)",
        sizes.warmup
    );
    let warm = drive(
        "warm-up: keel",
        "w",
        sizes.warmup,
        window,
        finished,
        d.starter(ok.clone()),
    )
    .await?;
    expect(&warm, sizes.warmup, 0, "warm-up")?;

    eprintln!(
        "sagas.completed_per_s: {} sagas, {} in flight",
        sizes.sagas, sizes.window
    );
    let keel = drive(
        "sagas: keel",
        "t",
        sizes.sagas,
        window,
        finished,
        d.starter(ok.clone()),
    )
    .await?;
    expect(&keel, sizes.sagas, 0, "keel throughput")?;

    eprintln!(
        "sagas: raw writes: {} sagas, {} in flight",
        sizes.sagas, sizes.window
    );
    let body = d.stored_body().await?;
    let writes = Arc::new(RawWrites::create(d.raw_pool.clone(), body).await?);
    let raw_writes = drive(
        "sagas: raw writes",
        "rw",
        sizes.sagas,
        window,
        finished,
        d.raw_writer(&writes, 0),
    )
    .await?;

    let timed = sizes.timed();
    eprintln!("sagas.duration: {timed} sagas started at {}/s", sizes.rate);
    let keel_timed = drive(
        "latency: keel",
        "l",
        timed,
        Pace::Rate(sizes.rate),
        finished,
        d.starter(ok.clone()),
    )
    .await?;
    expect(&keel_timed, timed, 0, "keel latency")?;
    let light_rate = (figures::rate_of(&keel) / 2.0).max(1.0).round();
    let light = sizes.timed_at(light_rate);
    eprintln!("sagas.duration at half capacity: {light} sagas started at {light_rate}/s");
    let keel_light = drive(
        "latency at half capacity: keel",
        "h",
        light,
        Pace::Rate(light_rate),
        finished,
        d.starter(ok.clone()),
    )
    .await?;
    expect(&keel_light, light, 0, "keel latency at half capacity")?;

    let group = format!("{}-raw", topics.group);
    let pipeline = Arc::new(RawPipeline::start(
        &RawTopics {
            brokers,
            commands: &topics.raw_commands,
            replies: &topics.raw_replies,
            group: &group,
            consumers: sizes.consumers,
        },
        STEPS,
        512,
        Arc::clone(&writes),
        d.finished_tx.clone(),
        &d.stop,
    )?);
    let start_raw = {
        let pipeline = Arc::clone(&pipeline);
        move |id: String| {
            let pipeline = Arc::clone(&pipeline);
            async move { pipeline.start_saga(id).await }
        }
    };
    drive(
        "warm-up: raw kafka",
        "rw-warm",
        sizes.warmup,
        window,
        finished,
        start_raw.clone(),
    )
    .await?;
    let pipeline_phase = drive(
        "sagas: raw kafka + writes",
        "rk",
        sizes.sagas,
        window,
        finished,
        start_raw.clone(),
    )
    .await?;
    let pipeline_timed = drive(
        "latency: raw kafka + writes",
        "rl",
        timed,
        Pace::Rate(sizes.rate),
        finished,
        start_raw.clone(),
    )
    .await?;
    let pipeline_light = drive(
        "latency at half capacity: raw",
        "rh",
        light,
        Pace::Rate(light_rate),
        finished,
        start_raw,
    )
    .await?;
    d.raw_pipelines.push(pipeline);

    eprintln!(
        "sagas.compensated_per_s: {} sagas whose last step refuses",
        sizes.compensations
    );
    let compensated = drive(
        "compensations: keel",
        "c",
        sizes.compensations,
        window,
        finished,
        d.starter(refused),
    )
    .await?;
    expect(&compensated, 0, sizes.compensations, "keel compensation")?;
    let raw_compensated = drive(
        "compensations: raw writes",
        "rc",
        sizes.compensations,
        window,
        finished,
        d.raw_writer(&writes, STEPS - 1),
    )
    .await?;
    Ok(Measured {
        keel,
        raw_writes,
        keel_timed,
        pipeline: pipeline_phase,
        pipeline_timed,
        light_rate,
        keel_light,
        pipeline_light,
        compensated,
        raw_compensated,
        metrics: d.metrics(),
    })
}

/// Fails unless the phase ended with exactly these counts.
fn expect(
    phase: &Phase,
    completed: usize,
    compensated: usize,
    what: &str,
) -> Result<(), BenchError> {
    if phase.completed != completed || phase.compensated != compensated || phase.other != 0 {
        return Err(format!(
            "{what}: expected {completed} completed and {compensated} compensated sagas, got \
             {} completed, {} compensated, {} parked",
            phase.completed, phase.compensated, phase.other
        )
        .into());
    }
    Ok(())
}
