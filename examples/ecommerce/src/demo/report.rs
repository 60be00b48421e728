//! The demo's report: readable lines, then one JSON object as the last line.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Value, json};

use super::checks::{Check, Figures};
use super::probe::{Latencies, percentile};
use super::traces::SagaTrace;
use crate::legacy::load::LoadReport;

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `orchestration` or `choreography`.
    pub saga: String,
    /// What the load did.
    pub load: LoadReport,
    /// When the load started and when everything had settled.
    pub timeline: Timeline,
    /// Counts from the stores.
    pub figures: Figures,
    /// Commit → readable latencies (ms): p50 and p99 per store.
    pub latency_ms: Value,
    /// Every check.
    pub checks: Vec<Check>,
    /// A confirmed saga's trace.
    pub confirmed_trace: Option<SagaTrace>,
    /// A compensated saga's trace.
    pub compensated_trace: Option<SagaTrace>,
    /// SIGKILLs per role.
    pub kills: BTreeMap<&'static str, u32>,
}

/// When a run's phases happened, in milliseconds since the Unix epoch: what a benchmark measures
/// on the machine meanwhile (its CPU, say) can then be put against the run's orders.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timeline {
    /// The load was about to place its first order.
    pub load_started_ms: u64,
    /// Every order was final and the read models had caught up.
    pub settled_ms: u64,
}

impl Timeline {
    /// The timeline of a load started at `load_started` and settled at `settled`.
    pub fn new(load_started: SystemTime, settled: SystemTime) -> Self {
        let ms = |at: SystemTime| {
            at.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        Self {
            load_started_ms: ms(load_started),
            settled_ms: ms(settled),
        }
    }
}

impl Report {
    /// Assembles the report.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        saga: crate::settings::SagaStyle,
        load: LoadReport,
        timeline: Timeline,
        figures: Figures,
        latencies: &Latencies,
        checks: Vec<Check>,
        confirmed_trace: Option<SagaTrace>,
        compensated_trace: Option<SagaTrace>,
        kills: &BTreeMap<&'static str, u32>,
    ) -> Self {
        let stats = |values: &[f64]| json!({"p50": percentile(values, 50.0), "p99": percentile(values, 99.0), "samples": values.len()});
        Self {
            saga: saga.as_str().to_owned(),
            load,
            timeline,
            figures,
            latency_ms: json!({
                "commit_to_redis": stats(&latencies.redis),
                "commit_to_elasticsearch": stats(&latencies.elasticsearch),
                "commit_to_event_store": stats(&latencies.event_store),
                "not_seen": latencies.timed_out,
                "raw_redis_round_trip": stats(&latencies.raw_redis),
            }),
            checks,
            confirmed_trace,
            compensated_trace,
            kills: kills.clone(),
        }
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// Prints the readable lines (stderr) and the JSON line (stdout).
    pub fn print(&self) -> crate::Result<()> {
        let f = &self.figures;
        let ms = |store: &str, p: &str| {
            self.latency_ms[store][p]
                .as_f64()
                .map_or("-".into(), |v| format!("{v:.1} ms"))
        };
        eprintln!();
        eprintln!("orders in MariaDB          {}", f.mariadb_orders);
        eprintln!("order streams              {}", f.order_streams);
        eprintln!("documents in Elasticsearch {}", f.es_documents);
        eprintln!("keys in Redis              {}", f.redis_keys);
        eprintln!(
            "sagas confirmed            {} (orders confirmed {})",
            f.sagas_confirmed, f.confirmed
        );
        eprintln!(
            "sagas compensated          {} (orders cancelled {}: {} before submission, {} after confirmation)",
            f.sagas_compensated,
            f.cancelled,
            f.cancelled_unsubmitted,
            f.cancelled_after_confirmation
        );
        eprintln!(
            "inventory                  {} initial = {} available + {} in confirmed orders",
            f.stock_initial, f.stock_available, f.stock_reserved_confirmed
        );
        eprintln!(
            "payments                   {} captured, {} refunded",
            f.payments_captured, f.payments_refunded
        );
        eprintln!("lost / duplicated          {} / {}", f.lost, f.duplicated);
        eprintln!(
            "commit → event store       p50 {}, p99 {} (captured and translated)",
            ms("commit_to_event_store", "p50"),
            ms("commit_to_event_store", "p99")
        );
        eprintln!(
            "commit → Redis             p50 {}, p99 {}",
            ms("commit_to_redis", "p50"),
            ms("commit_to_redis", "p99")
        );
        eprintln!(
            "commit → Elasticsearch     p50 {}, p99 {}",
            ms("commit_to_elasticsearch", "p50"),
            ms("commit_to_elasticsearch", "p99")
        );
        eprintln!(
            "probe baseline            p50 {}, p99 {} (a Redis write by the probe, seen by the same loop)",
            ms("raw_redis_round_trip", "p50"),
            ms("raw_redis_round_trip", "p99")
        );
        if let Some(t) = &self.confirmed_trace {
            eprintln!("a confirmed saga           {} {}", t.saga_id, t.url);
        }
        if let Some(t) = &self.compensated_trace {
            eprintln!("a compensated saga         {} {}", t.saga_id, t.url);
        }
        if !self.kills.is_empty() {
            eprintln!("roles killed               {:?}", self.kills);
        }
        for (i, check) in self.checks.iter().enumerate() {
            eprintln!(
                "check {} {}  {}: {}",
                i + 1,
                if check.passed { "ok  " } else { "FAIL" },
                check.name,
                check.detail
            );
        }
        let mut line = serde_json::to_value(self)?;
        line["passed"] = json!(self.passed());
        println!("{}", serde_json::to_string(&line)?);
        Ok(())
    }
}
