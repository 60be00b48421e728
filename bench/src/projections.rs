//! `make bench BENCH=projections`: a fresh projection catching up a PostgreSQL event store
//! with a history of `KEEL_BENCH_PROJECTIONS_EVENTS` events (1,000,000 by default, as the
//! projections issue (#5) names), as the issue asks:
//!
//! - events/s projected into Redis (`RedisSink`, JSON documents behind the Lua version guard),
//!   beside the raw rate of writing the same final documents with the same client in the same
//!   groups (a pipeline of `SET` document + `SET` version per batch of `batch.size` events);
//! - events/s projected into Elasticsearch (`ElasticsearchSink` behind an alias, `_bulk` with
//!   external versions), beside raw `_bulk` requests of the same documents in the same groups;
//! - the same two catch-ups (`projections.*_vs_read`) beside the history read alone from the
//!   store just before each (`EventStore::read_all` in pages of `read.size`, nothing decoded
//!   or written): what a catch-up has to read before it writes;
//! - the time `rebuild_elasticsearch` takes to replay the history into a new index and switch
//!   the alias while the live runner follows and a reader counts the documents every 50 ms,
//!   beside the first catch-up of the same history;
//! - the live projection's lag (`ProjectionRunner::lag().ms_behind`, sampled every 100 ms)
//!   while events are appended at `KEEL_BENCH_PROJECTIONS_LIVE_RATE` (5,000) events/s for
//!   `KEEL_BENCH_PROJECTIONS_LIVE_SECONDS` (15), `KEEL_BENCH_PROJECTIONS_LIVE_PER_APPEND` (250)
//!   events per append to a new account, beside the `flush.timeout.ms` a partial batch waits.
//!
//! The history is `events / KEEL_BENCH_PROJECTIONS_EVENTS_PER_DOC` (4) account streams of that
//! many deposits each, so each document is written once per batch; `batch.size` is
//! `KEEL_BENCH_PROJECTIONS_BATCH` (1,000); `read.concurrency` and `max.in.flight.requests` are
//! the runner's defaults unless `KEEL_BENCH_PROJECTIONS_READ_CONCURRENCY` and
//! `KEEL_BENCH_PROJECTIONS_IN_FLIGHT` say otherwise. Every run has its own database
//! (`keel_bench_proj_<run>`, dropped at the end), Redis keys (`keel-bench-<run>:…`, unlinked)
//! and indices (`keel-bench-<run>-…`, deleted).

mod figures;
mod live;
mod memory;
mod model;
mod raw;
mod services;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_core::EventStore;
use keel_core::store::{CheckpointStore, PostgresStore};
use keel_core::testing::stack;
use keel_projections::sinks::elasticsearch::{ElasticsearchSink, ElasticsearchSinkConfig};
use keel_projections::sinks::redis::{RedisSink, RedisSinkConfig};
use keel_projections::{Projection, ProjectionRunner, RunnerConfig};
use redis::aio::ConnectionManager;
use serde_json::Value;

use crate::BenchError;
use crate::cpu::CpuMeter;
use crate::report::Report;
use crate::support::{TempDatabase, bar, env_f64, env_usize, per_second};
use figures::Figures;
use model::{Balances, append_accounts, final_doc, mapping};
use services::{count, delete_indices, unlink_keys};

/// The account streams' prefix (the run has a database of its own).
const ACCOUNTS: &str = "acct-";

/// The sizes of a run, from the environment.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    events: usize,
    per_doc: usize,
    batch: usize,
    live_rate: f64,
    live_seconds: f64,
    live_per_append: usize,
}

impl Sizes {
    fn from_env() -> Self {
        let per_doc = env_usize("KEEL_BENCH_PROJECTIONS_EVENTS_PER_DOC", 4).max(1);
        Self {
            events: env_usize("KEEL_BENCH_PROJECTIONS_EVENTS", 1_000_000).max(per_doc),
            per_doc,
            batch: env_usize("KEEL_BENCH_PROJECTIONS_BATCH", 1000).max(1),
            live_rate: env_f64("KEEL_BENCH_PROJECTIONS_LIVE_RATE", 5000.0),
            live_seconds: env_f64("KEEL_BENCH_PROJECTIONS_LIVE_SECONDS", 15.0),
            live_per_append: env_usize("KEEL_BENCH_PROJECTIONS_LIVE_PER_APPEND", 250).max(1),
        }
    }

    fn accounts(&self) -> usize {
        self.events / self.per_doc
    }

    /// Events in the history (whole accounts).
    fn history(&self) -> usize {
        self.accounts() * self.per_doc
    }

    /// Documents per batch of `batch.size` events: the raw baselines' group.
    fn group(&self) -> usize {
        self.batch.div_ceil(self.per_doc)
    }
}

/// The servers and the run's names.
struct Env {
    redis_url: String,
    es_url: String,
    /// Redis keys and Elasticsearch indices start with this.
    base: String,
    http: reqwest::Client,
    redis: ConnectionManager,
}

/// Runs the benchmark and records its figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let pg = stack::postgres().require();
    let redis_url = stack::redis().require().url;
    let es_url = stack::elasticsearch().require().url;
    let sizes = Sizes::from_env();
    let run = crate::support::run_id();
    let redis = redis::Client::open(redis_url.as_str())?
        .get_connection_manager()
        .await
        .map_err(|e| format!("cannot reach Redis at {redis_url} ({e}): run make up"))?;
    let env = Env {
        redis_url,
        es_url: es_url.trim_end_matches('/').to_owned(),
        base: format!("keel-bench-{run}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        redis,
    };
    let db = TempDatabase::create(&pg.url, &format!("keel_bench_proj_{run}")).await?;
    eprintln!(
        "projections: run {run}: database {}, Redis keys {}:*, indices {}-*",
        db.name(),
        env.base,
        env.base
    );
    let started = Instant::now();
    let outcome = measure(report, sizes, &env, &db).await;
    let keys = unlink_keys(&env).await;
    let indices = delete_indices(&env).await;
    let dropped = db.drop_database().await;
    eprintln!(
        "projections: cleaned up: {} Redis key(s), {} index(es), database {} dropped; done in \
         {:.1} s",
        keys.as_ref().map_or(0, |n| *n),
        indices.as_ref().map_or(0, |n| *n),
        db.name(),
        started.elapsed().as_secs_f64()
    );
    outcome?;
    keys?;
    indices?;
    dropped
}

async fn measure(
    report: &mut Report,
    sizes: Sizes,
    env: &Env,
    db: &TempDatabase,
) -> Result<(), BenchError> {
    let store = PostgresStore::connect(&db.url).await?;
    let (accounts, history) = (sizes.accounts(), sizes.history());
    eprintln!(
        "projections: history of {history} events ({accounts} accounts x {} deposits), \
         batch.size {}",
        sizes.per_doc, sizes.batch
    );
    append_accounts(
        &model::loader(&db.url).await?,
        ACCOUNTS,
        0..accounts,
        sizes.per_doc,
        16,
        "append history",
    )
    .await?;
    let defaults = RunnerConfig::default();
    let config = RunnerConfig {
        batch_size: sizes.batch,
        read_concurrency: env_usize(
            "KEEL_BENCH_PROJECTIONS_READ_CONCURRENCY",
            defaults.read_concurrency,
        )
        .max(1),
        max_in_flight_requests: env_usize(
            "KEEL_BENCH_PROJECTIONS_IN_FLIGHT",
            defaults.max_in_flight_requests,
        )
        .max(1),
        ..defaults
    };

    // Redis: a fresh projection, then the raw pipelines.
    let to_redis = redis_runner(env, &store, "keel", "redis", &config).await?;
    let read_before_redis = raw::read_history(&store, config.read_size, history).await?;
    let meter = CpuMeter::start();
    let redis_took = timed_catch_up(&to_redis, &store, history, "catch-up: redis").await?;
    let redis_cpu = meter.stop();
    check_redis(env, sizes).await?;
    let meter = CpuMeter::start();
    let raw_redis = raw::redis(
        &env.redis,
        &format!("{}:raw:", env.base),
        ACCOUNTS,
        accounts,
        sizes.per_doc,
        sizes.group(),
    )
    .await?;
    let raw_redis_cpu = meter.stop();
    let from_memory = memory::catch_up_redis(env, sizes, &config).await?;

    // Elasticsearch: a fresh projection behind an alias, then the raw _bulk requests.
    let es_config = ElasticsearchSinkConfig::new(&env.es_url, format!("{}-balances", env.base))
        .with_mapping(mapping());
    let to_es = Arc::new(
        ProjectionRunner::new(store.clone(), balances(env, "elasticsearch"))
            .with_sink(ElasticsearchSink::build_behind_alias(es_config.clone()).await?)
            .with_config(config.clone())?,
    );
    let read_before_es = raw::read_history(&store, config.read_size, history).await?;
    let es_took = timed_catch_up(&to_es, &store, history, "catch-up: elasticsearch").await?;
    let raw_es = raw::elasticsearch(
        &env.http,
        &env.es_url,
        &format!("{}-raw", env.base),
        ACCOUNTS,
        accounts,
        sizes.per_doc,
        sizes.group(),
    )
    .await?;

    // The rebuild, then the live lag (Redis).
    eprintln!("projections.rebuild_elasticsearch: replay into a new index, switch the alias");
    let expected = u64::try_from(accounts)?;
    let (rebuilt, rebuild_took, reads) =
        live::rebuild(&to_es, es_config.clone(), &env.http, expected).await?;
    let after = count(env, &es_config.index).await?;
    eprintln!(
        "projections.live_lag: {} events/s for {} s",
        sizes.live_rate, sizes.live_seconds
    );
    let lag = live::lag_under_load(
        &to_redis,
        &store,
        ACCOUNTS,
        accounts,
        sizes.live_per_append,
        sizes.live_rate,
        sizes.live_seconds,
    )
    .await?;

    let figures = Figures {
        sizes,
        redis: (redis_took, raw_redis),
        redis_cpu: (redis_cpu, raw_redis_cpu),
        from_memory,
        es: (es_took, raw_es),
        reads: (read_before_redis, read_before_es),
        read_size: config.read_size,
        read_concurrency: config.read_concurrency,
        in_flight: config.max_in_flight_requests,
        rebuild: (rebuilt, rebuild_took, reads, after),
        lag,
        flush_ms: config.flush_timeout_ms,
    };
    figures.record(report)
}

fn balances(env: &Env, sink: &str) -> Balances {
    Balances {
        name: format!("{}-{sink}", env.base),
    }
}

/// A fresh balances projection `name` over `store` into Redis, its keys under
/// `<base>:<keys>:`.
async fn redis_runner<S: EventStore + CheckpointStore + Clone>(
    env: &Env,
    store: &S,
    keys: &str,
    name: &str,
    config: &RunnerConfig,
) -> Result<Arc<ProjectionRunner<S, Balances>>, BenchError> {
    let sink = RedisSink::build(RedisSinkConfig {
        key_prefix: format!("{}:{keys}:", env.base),
        ..RedisSinkConfig::new(&env.redis_url)
    })
    .await?;
    Ok(Arc::new(
        ProjectionRunner::new(store.clone(), balances(env, name))
            .with_sink(sink)
            .with_config(config.clone())?,
    ))
}

/// Catches `runner` up with the store, showing progress from its checkpoint; checks that it
/// read the whole history and returns the time it took.
async fn timed_catch_up<S, P>(
    runner: &Arc<ProjectionRunner<S, P>>,
    store: &S,
    history: usize,
    label: &str,
) -> Result<Duration, BenchError>
where
    S: EventStore + CheckpointStore + Clone,
    P: Projection,
{
    let head = store.head().await?;
    let progress = bar(usize::try_from(head.seq)?, label);
    let r = Arc::clone(runner);
    let started = Instant::now();
    let mut task = tokio::spawn(async move { r.catch_up().await });
    let events = loop {
        tokio::select! {
            done = &mut task => break done??,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if let Ok(at) = runner.checkpoint().await {
                    progress.set_position(at.seq);
                }
            }
        }
    };
    let took = started.elapsed();
    progress.finish_and_clear();
    if events != history {
        return Err(format!("{label}: read {events} events, expected {history}").into());
    }
    eprintln!(
        "  {label}: {events} events in {:.2} s: {:.0} events/s",
        took.as_secs_f64(),
        per_second(events, took)
    );
    Ok(took)
}

/// Checks that the projected Redis documents are the final ones (first and last account).
async fn check_redis(env: &Env, sizes: Sizes) -> Result<(), BenchError> {
    let mut conn = env.redis.clone();
    for i in [0, sizes.accounts() - 1] {
        let key = model::stream(ACCOUNTS, i);
        let stored: Option<String> = redis::cmd("GET")
            .arg(format!("{}:keel:{key}", env.base))
            .query_async(&mut conn)
            .await?;
        let stored: Value = serde_json::from_str(stored.as_deref().unwrap_or("null"))?;
        let (expected, _) = final_doc(key.clone(), sizes.per_doc)?;
        if stored != serde_json::to_value(&expected)? {
            return Err(format!("Redis holds {stored} for {key}, expected {expected:?}").into());
        }
    }
    Ok(())
}
