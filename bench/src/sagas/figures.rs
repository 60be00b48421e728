//! The sagas area's figures.

use super::drive::Phase;
use super::setup::{SAGA, STEPS};
use super::{Measured, Sizes};
use crate::BenchError;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;
use crate::support::per_second;

/// Sagas per second over a phase.
pub(super) fn rate_of(phase: &Phase) -> f64 {
    per_second(phase.durations.len(), phase.elapsed)
}

pub(super) fn record(report: &mut Report, sizes: Sizes, m: &Measured) -> Result<(), BenchError> {
    let value = rate_of(&m.keel);
    let setup = format!(
        "saga `{SAGA}` of {STEPS} steps (inventory, payment, orders), coordinator + 3 \
         participants in one process through Kafka ({} partitions per topic, {} consumers per \
         group handling up to {} messages each at once (one saga's in order), one shared \
         idempotent producer with acks=all), PostgresSagaStore for state and the participants' \
         inboxes (group commit)",
        sizes.partitions,
        sizes.consumers,
        keel_core::kafka::ConsumerConfig::DEFAULT_MAX_IN_FLIGHT
    );
    report.record(Figure {
        bench: "sagas.completed_per_s",
        value,
        unit: "sagas/s",
        baseline: "raw sqlx: the same writes per saga (insert, 3 inbox rows, 3 version-guarded \
                   updates of the whole row) without saga logic or Kafka"
            .into(),
        baseline_value: rate_of(&m.raw_writes),
        goal: Some((">= 2000 sagas/s".into(), value >= 2000.0)),
        notes: format!(
            "{} sagas, {} in flight, start to last completion (durable); {setup}; p50/p99 \
             duration under this load {:.1}/{:.1} ms; coordinator metrics over the whole run: {} started, {} \
             commands sent, {} replies ignored, {} dead-lettered, {} parked",
            sizes.sagas,
            sizes.window,
            percentile_ms(&m.keel.durations, 50.0),
            percentile_ms(&m.keel.durations, 99.0),
            m.metrics.started,
            m.metrics.commands_sent,
            m.metrics.replies_ignored,
            m.metrics.dead_lettered,
            m.metrics.parked
        ),
    })?;
    report.record(Figure {
        bench: "sagas.completed_per_s_vs_raw_kafka",
        value,
        unit: "sagas/s",
        baseline: "rdkafka + sqlx directly: per step a command produced and consumed, an \
                   inbox row, a reply produced and consumed, an update; same producer settings, \
                   partitions, consumers and messages in flight per consumer, one shared \
                   producer; each write its own statement"
            .into(),
        baseline_value: rate_of(&m.pipeline),
        goal: None,
        notes: format!(
            "the same {} sagas and window as sagas.completed_per_s; {setup}",
            sizes.sagas
        ),
    })?;
    let rate = sizes.rate;
    let timed_note = format!(
        "{} sagas started at {rate}/s (open loop) for {} s, duration from just before \
         Coordinator::start to the durable `completed` update; keel finished them at {:.0}/s, \
         the raw pipeline at {:.0}/s (a rate above that queues sagas, and the durations are \
         mostly the queue's); {setup}",
        sizes.timed(),
        sizes.seconds,
        rate_of(&m.keel_timed),
        rate_of(&m.pipeline_timed)
    );
    let p50 = percentile_ms(&m.keel_timed.durations, 50.0);
    let p99 = percentile_ms(&m.keel_timed.durations, 99.0);
    report.record(Figure {
        bench: "sagas.duration_p50_ms",
        value: p50,
        unit: "ms",
        baseline: format!("raw Kafka + writes pipeline at {rate}/s, p50"),
        baseline_value: percentile_ms(&m.pipeline_timed.durations, 50.0),
        goal: None,
        notes: timed_note.clone(),
    })?;
    report.record(Figure {
        bench: "sagas.duration_p99_ms",
        value: p99,
        unit: "ms",
        baseline: format!("raw Kafka + writes pipeline at {rate}/s, p99"),
        baseline_value: percentile_ms(&m.pipeline_timed.durations, 99.0),
        goal: Some((
            format!("p99 < 100 ms at {rate} sagas/s (the issue: at 500)"),
            p99 < 100.0,
        )),
        notes: timed_note,
    })?;
    let light = m.light_rate;
    let p99 = percentile_ms(&m.keel_light.durations, 99.0);
    report.record(Figure {
        bench: "sagas.duration_p99_ms_half_capacity",
        value: p99,
        unit: "ms",
        baseline: format!("raw Kafka + writes pipeline at {light}/s, p99"),
        baseline_value: percentile_ms(&m.pipeline_light.durations, 99.0),
        goal: None,
        notes: format!(
            "{} sagas started at {light}/s (half the throughput of sagas.completed_per_s, so \
             the deployment keeps up) for {} s; p50 {:.1} ms vs {:.1} ms raw; duration from \
             just before Coordinator::start to the durable `completed` update; {setup}",
            m.keel_light.durations.len(),
            sizes.seconds,
            percentile_ms(&m.keel_light.durations, 50.0),
            percentile_ms(&m.pipeline_light.durations, 50.0)
        ),
    })?;
    report.record(Figure {
        bench: "sagas.compensated_per_s",
        value: rate_of(&m.compensated),
        unit: "sagas/s",
        baseline: "raw sqlx: the same writes per compensated saga (insert, 5 inbox rows, 5 \
                   updates) without saga logic or Kafka"
            .into(),
        baseline_value: rate_of(&m.raw_compensated),
        goal: None,
        notes: format!(
            "{} sagas whose third step is refused, so payment then inventory are compensated \
             (5 commands each), {} in flight, start to the durable `compensated` update; p99 \
             {:.1} ms; {setup}",
            sizes.compensations,
            sizes.window,
            percentile_ms(&m.compensated.durations, 99.0)
        ),
    })?;
    Ok(())
}
