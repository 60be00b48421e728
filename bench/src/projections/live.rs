//! The phases with a runner following the store: the lag of a live projection under a steady
//! append rate, and the rebuild of the Elasticsearch read model while readers query it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_core::store::PostgresStore;
use keel_core::{EventStore as _, ExpectedVersion};
use keel_projections::sinks::elasticsearch::ElasticsearchSinkConfig;
use keel_projections::{ProjectionRunner, RebuildReport, rebuild_elasticsearch};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::model::{Balances, deposits, stream};
use crate::BenchError;

type Runner = ProjectionRunner<PostgresStore, Balances>;

/// Runs `runner` (catching up, then following appends) until `stop` says so.
fn follow(runner: &Arc<Runner>, stop: &watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let (runner, mut stop) = (Arc::clone(runner), stop.clone());
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = runner.run(shutdown).await {
            eprintln!("projections: the live runner stopped: {e}");
        }
    })
}

/// What the live phase measured.
#[derive(Debug)]
pub(crate) struct LiveLag {
    /// `ms_behind` sampled every 100 ms from the first append until the projection caught up.
    pub(crate) samples: Vec<Duration>,
    /// Events appended.
    pub(crate) events: usize,
    /// How long the appends took (the rate they kept).
    pub(crate) appending: Duration,
    /// From the last append to the projection caught up.
    pub(crate) drained: Duration,
    /// How long each append took, its commit included: an event is readable only once its
    /// transaction (and every one before it) committed.
    pub(crate) appends: Vec<Duration>,
}

/// Appends `rate` events a second for `seconds` (`per_append` deposits per append, each to a
/// new account from `first`) while `runner` follows, sampling its lag.
pub(crate) async fn lag_under_load(
    runner: &Arc<Runner>,
    store: &PostgresStore,
    prefix: &str,
    first: usize,
    per_append: usize,
    rate: f64,
    seconds: f64,
) -> Result<LiveLag, BenchError> {
    let (stop_tx, stop) = watch::channel(false);
    let task = follow(runner, &stop);
    let outcome = appending(runner, store, prefix, first, per_append, rate, seconds).await;
    let _ = stop_tx.send(true);
    let _ = task.await;
    outcome
}

/// Samples `runner.lag().ms_behind` every 100 ms until `stop`, in a task of its own so that a
/// slow sample never delays the appends.
fn sample_lag(
    runner: &Arc<Runner>,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<Vec<Duration>, BenchError>> {
    let (runner, stop) = (Arc::clone(runner), stop.clone());
    tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stop.borrow() {
            tick.tick().await;
            let lag = runner.lag().await?;
            samples.push(Duration::from_millis(lag.ms_behind));
        }
        Ok(samples)
    })
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "positive rates and small counts"
)]
async fn appending(
    runner: &Arc<Runner>,
    store: &PostgresStore,
    prefix: &str,
    first: usize,
    per_append: usize,
    rate: f64,
    seconds: f64,
) -> Result<LiveLag, BenchError> {
    let calls = ((rate * seconds) / per_append as f64).round().max(1.0) as usize;
    let every = Duration::from_secs_f64(per_append as f64 / rate);
    let mut appends = JoinSet::new();
    let mut took = Vec::with_capacity(calls);
    let (stop_sampling, sampling) = watch::channel(false);
    let sampler = sample_lag(runner, &sampling);
    let progress = crate::support::bar(calls * per_append, format!("live: {rate} events/s"));
    let t0 = tokio::time::Instant::now();
    // Open loop: each append starts at its time whether the ones before finished or not, so
    // the rate asked is kept as long as the store takes it (appends overlap).
    for j in 0..calls {
        tokio::time::sleep_until(t0 + every * u32::try_from(j)?).await;
        let (store, prefix) = (store.clone(), prefix.to_owned());
        appends.spawn(async move {
            let events = deposits(per_append)?;
            let started = Instant::now();
            store
                .append(
                    &stream(&prefix, first + j),
                    ExpectedVersion::NoStream,
                    events,
                )
                .await?;
            Ok::<_, BenchError>(started.elapsed())
        });
        progress.inc(per_append as u64);
        while let Some(done) = appends.try_join_next() {
            took.push(done??);
        }
    }
    while let Some(done) = appends.join_next().await {
        took.push(done??);
    }
    let appending = t0.elapsed();
    progress.finish_and_clear();
    let last = Instant::now();
    let deadline = last + Duration::from_secs(60);
    while runner.lag().await?.events_behind > 0 {
        if Instant::now() > deadline {
            return Err("the live projection did not catch up within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = last.elapsed();
    let _ = stop_sampling.send(true);
    let samples = sampler.await??;
    Ok(LiveLag {
        samples,
        events: calls * per_append,
        appending,
        drained,
        appends: took,
    })
}

/// What readers saw during a rebuild.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    /// Reads answered with the whole model.
    pub(crate) complete: usize,
    /// Reads answered with fewer documents.
    pub(crate) incomplete: usize,
    /// Reads that failed.
    pub(crate) failed: usize,
}

/// Counts the documents behind `alias` every 50 ms until `stop`.
async fn read_model(
    http: reqwest::Client,
    url: String,
    alias: String,
    expected: u64,
    mut stop: watch::Receiver<bool>,
) -> Reads {
    let mut reads = Reads::default();
    loop {
        let count = async {
            let reply: Value = http
                .get(format!("{url}/{alias}/_count"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, reqwest::Error>(reply["count"].as_u64())
        };
        match count.await {
            Ok(Some(n)) if n >= expected => reads.complete += 1,
            Ok(_) => reads.incomplete += 1,
            Err(_) => reads.failed += 1,
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return reads,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Rebuilds the model behind `config.index` while `live` follows the store and a reader counts
/// its documents; returns the report, the time it took and what the reader saw.
pub(crate) async fn rebuild(
    live: &Arc<Runner>,
    config: ElasticsearchSinkConfig,
    http: &reqwest::Client,
    expected: u64,
) -> Result<(RebuildReport, Duration, Reads), BenchError> {
    let (url, alias) = (config.url.clone(), config.index.clone());
    http.post(format!("{url}/{alias}/_refresh"))
        .send()
        .await?
        .error_for_status()?;
    let (stop_tx, stop) = watch::channel(false);
    let runner = follow(live, &stop);
    let reader = tokio::spawn(read_model(http.clone(), url, alias, expected, stop.clone()));
    let started = Instant::now();
    let outcome = rebuild_elasticsearch(live, config, true).await;
    let took = started.elapsed();
    let _ = stop_tx.send(true);
    let reads = reader.await?;
    let _ = runner.await;
    Ok((outcome?, took, reads))
}
