//! 1 and 2: batched append throughput and single-append latency, each beside raw sqlx
//! inserts of the same rows into the baseline table.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use keel_core::{EventStore as _, ExpectedVersion};

use super::{Bench, Side, deposit, deposits};
use crate::BenchError;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;
use crate::support::{bar, per_second};

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

impl Bench {
    /// `batches` batches of `BATCH` events, each to its own new stream, by `WRITERS` tasks;
    /// returns the elapsed time.
    async fn batched(
        &self,
        side: Side,
        label: &str,
        batches: usize,
        show: bool,
    ) -> Result<Duration, BenchError> {
        let prefix = format!("bench-{}-{label}", self.run_id);
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
    pub(super) async fn append_batched(&self, report: &mut Report) -> Result<(), BenchError> {
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
                 per side in A-B-B-A order after {WARMUP_BATCHES} warm-up batches, both into \
                 fresh tables of the run's own database; keel writes events + an outbox row + \
                 the stream version under an advisory lock with NOTIFY (one keel_append \
                 statement per append)"
            ),
        })?;
        Ok(())
    }

    /// 2. Single-event append latency beside a raw single-row `INSERT` in its own transaction.
    pub(super) async fn append_single(&self, report: &mut Report) -> Result<(), BenchError> {
        eprintln!(
            "core.append_single: {SINGLES} sequential appends per side (interleaved), \
             after {WARMUP_SINGLES} warm-up"
        );
        let stream = format!("bench-{}-single", self.run_id);
        let progress = bar(WARMUP_SINGLES + SINGLES, "append_single: keel + raw");
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
}
