//! Drives a phase of the benchmark: starts `n` sagas (a window of sagas in flight, or a fixed
//! rate), and collects their ends from the shared channel of finished sagas, with each saga's
//! duration from just before its start to its last durable write.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use keel_sagas::SagaState;
use tokio::sync::{Semaphore, mpsc};

use super::observed::Finished;
use crate::BenchError;
use crate::support::bar;

/// How sagas are started.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// Keep this many in flight: a new one starts when one finishes (throughput).
    Window(usize),
    /// Start this many per second whatever happens (latency at a given load).
    Rate(f64),
}

/// What a phase measured.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    /// From the first start to the last end.
    pub(crate) elapsed: Duration,
    /// Each saga's duration, start to end.
    pub(crate) durations: Vec<Duration>,
    /// How many ended completed, compensated, or otherwise (parked).
    pub(crate) completed: usize,
    /// See [`Phase::completed`].
    pub(crate) compensated: usize,
    /// See [`Phase::completed`].
    pub(crate) other: usize,
}

/// A phase fails when no saga ends for this long.
const STALL: Duration = Duration::from_secs(60);

type Starts = Arc<Mutex<HashMap<String, Instant>>>;

/// Starts `n` sagas with ids `<prefix>-<i>` through `start` at `pace`, and waits until every one
/// of them reported its end on `finished`. Ends of other ids (earlier phases) are ignored.
pub(crate) async fn drive<F, Fut>(
    label: &str,
    prefix: &str,
    n: usize,
    pace: Pace,
    finished: &mut mpsc::UnboundedReceiver<Finished>,
    start: F,
) -> Result<Phase, BenchError>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BenchError>> + Send + 'static,
{
    // Ends left over from an earlier phase's stragglers.
    while finished.try_recv().is_ok() {}
    let starts: Starts = Arc::default();
    let window = Arc::new(Semaphore::new(match pace {
        Pace::Window(w) => w.max(1),
        Pace::Rate(_) => Semaphore::MAX_PERMITS,
    }));
    let (failed_tx, mut failed) = mpsc::unbounded_channel::<String>();
    let progress = bar(n, label);
    let began = Instant::now();
    let starter = tokio::spawn(start_all(
        prefix.to_owned(),
        n,
        pace,
        Arc::clone(&starts),
        Arc::clone(&window),
        failed_tx,
        Arc::new(start),
    ));
    let mut phase = Phase::default();
    let mut last = began;
    while phase.durations.len() < n {
        let end = tokio::select! {
            end = finished.recv() => end.ok_or("the channel of finished sagas closed")?,
            Some(reason) = failed.recv() => {
                starter.abort();
                return Err(format!("{label}: starting a saga failed: {reason}").into());
            }
            () = tokio::time::sleep(STALL) => {
                starter.abort();
                return Err(format!(
                    "{label}: stalled: {} of {n} sagas ended, none in the last {} s",
                    phase.durations.len(),
                    STALL.as_secs()
                )
                .into());
            }
        };
        let started = starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&end.saga_id);
        let Some(started) = started else { continue };
        phase
            .durations
            .push(end.at.saturating_duration_since(started));
        match end.state {
            SagaState::Completed => phase.completed += 1,
            SagaState::Compensated => phase.compensated += 1,
            _ => phase.other += 1,
        }
        last = last.max(end.at);
        if matches!(pace, Pace::Window(_)) {
            window.add_permits(1);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    starter.await?;
    phase.elapsed = last.saturating_duration_since(began);
    Ok(phase)
}

async fn start_all<F, Fut>(
    prefix: String,
    n: usize,
    pace: Pace,
    starts: Starts,
    window: Arc<Semaphore>,
    failed: mpsc::UnboundedSender<String>,
    start: Arc<F>,
) where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BenchError>> + Send + 'static,
{
    let t0 = tokio::time::Instant::now();
    for i in 0..n {
        match pace {
            Pace::Window(_) => match Arc::clone(&window).acquire_owned().await {
                Ok(permit) => permit.forget(),
                Err(_) => return,
            },
            Pace::Rate(rate) => {
                #[allow(clippy::cast_precision_loss, reason = "saga counts far below 2^52")]
                let at = t0 + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at).await;
            }
        }
        let id = format!("{prefix}-{i}");
        starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), Instant::now());
        let (start, failed) = (Arc::clone(&start), failed.clone());
        tokio::spawn(async move {
            if let Err(e) = start(id).await {
                let _ = failed.send(e.to_string());
            }
        });
    }
}
