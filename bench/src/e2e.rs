//! `make bench BENCH=e2e`: the e-commerce example end to end in release, at 1,000 orders/s for
//! 60 s by default (`KEEL_BENCH_E2E_RATE`, `KEEL_BENCH_E2E_SECONDS`). It runs
//! `target/release/ecommerce demo` in its own namespace (scripts/bench.sh builds it) and turns
//! its report into figures: commit → Redis p50/p99 beside the raw round trip of a Redis write
//! read back by the same probe in the same run, commit → Elasticsearch-visible p99 beside the
//! index refresh interval + 100 ms, the p99 beside the guide's target (sub-second at 100,000
//! orders a day), the order rate the pipeline finished against the rate asked, and the CPU the
//! machine spent per order from the load's start until everything settled, beside the most an
//! order may use for 1,000 orders/s on this machine's cores.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::BenchError;
use crate::cpu::{CpuSampler, CpuTimeline};
use crate::report::{Figure, Report};

/// Elasticsearch's default `index.refresh_interval`, which the example does not change.
const REFRESH_MS: f64 = 1000.0;

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ecommerce() -> PathBuf {
    std::env::var_os("KEEL_BENCH_ECOMMERCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/ecommerce"),
        PathBuf::from,
    )
}

/// Runs the benchmark and records its figures.
pub(crate) async fn run(report: &mut Report) -> Result<(), BenchError> {
    let rate = env_or("KEEL_BENCH_E2E_RATE", 1000.0);
    let seconds = env_or("KEEL_BENCH_E2E_SECONDS", 60.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let orders = (rate * seconds).round() as u64;
    // Probe about 50 orders a second: enough samples, little load on Redis and Elasticsearch.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let every = (rate / 50.0).ceil().max(1.0) as u64;
    let exe = ecommerce();
    eprintln!(
        "e2e: {orders} orders at {rate}/s with {} (probing every {every}th)",
        exe.display()
    );
    let started = Instant::now();
    let sampler = CpuSampler::start(Duration::from_millis(250));
    let output = tokio::process::Command::new(&exe)
        .args([
            "--namespace",
            "benche2e",
            "--state-dir",
            "target/bench/ecommerce",
            "demo",
        ])
        .args(["--orders", &orders.to_string(), "--rate", &rate.to_string()])
        .args([
            "--probe-every",
            &every.to_string(),
            "--settle-timeout",
            "3600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (scripts/bench.sh builds it)",
                exe.display()
            )
        })?
        .wait_with_output()
        .await
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (scripts/bench.sh builds it)",
                exe.display()
            )
        })?;
    let total_s = started.elapsed().as_secs_f64();
    let cpu = sampler.finish();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let demo: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("the demo printed no report (exit {:?})", output.status))?;
    if demo["passed"] != true {
        return Err(format!("a check of the e2e run failed: {}", demo["checks"]).into());
    }
    let ms = |what: &str, p: &str| demo["latency_ms"][what][p].as_f64().unwrap_or(f64::NAN);
    let (redis_p50, redis_p99) = (ms("commit_to_redis", "p50"), ms("commit_to_redis", "p99"));
    let (raw_p50, raw_p99) = (
        ms("raw_redis_round_trip", "p50"),
        ms("raw_redis_round_trip", "p99"),
    );
    let es_p99 = ms("commit_to_elasticsearch", "p99");
    let (store_p50, store_p99) = (
        ms("commit_to_event_store", "p50"),
        ms("commit_to_event_store", "p99"),
    );
    let load_s = demo["load"]["seconds"].as_f64().unwrap_or(f64::NAN);
    let samples = demo["latency_ms"]["commit_to_redis"]["samples"]
        .as_u64()
        .unwrap_or(0);
    let notes = format!(
        "{orders} orders asked at {rate}/s; the load placed them in {load_s:.1} s; {samples} probed \
         (every {every}th); commit -> event store (captured and translated) p50 {store_p50:.1} ms, p99 \
         {store_p99:.1} ms; whole run {total_s:.0} s incl. setup, settle and checks; debug-free release build"
    );
    let figure =
        |bench, value, baseline: &str, baseline_value, goal: Option<(String, bool)>| Figure {
            bench,
            value,
            unit: "ms",
            baseline: baseline.to_owned(),
            baseline_value,
            goal,
            notes: notes.clone(),
        };
    report.record(figure(
        "e2e.commit_to_redis_p50",
        redis_p50,
        "raw Redis write read back by the same probe, p50",
        raw_p50,
        Some(("< 20 ms".into(), redis_p50 < 20.0)),
    ))?;
    report.record(figure(
        "e2e.commit_to_redis_p99",
        redis_p99,
        "raw Redis write read back by the same probe, p99",
        raw_p99,
        Some(("< 100 ms".into(), redis_p99 < 100.0)),
    ))?;
    report.record(figure(
        "e2e.commit_to_elasticsearch_p99",
        es_p99,
        "index refresh interval + 100 ms",
        REFRESH_MS + 100.0,
        Some((
            "<= refresh interval + 100 ms".into(),
            es_p99 <= REFRESH_MS + 100.0,
        )),
    ))?;
    report.record(figure(
        "e2e.commit_to_redis_p99_vs_guide",
        redis_p99,
        "the guide's target: sub-second at 100,000 orders a day",
        1000.0,
        Some(("< 1000 ms".into(), redis_p99 < 1000.0)),
    ))?;
    let finished_rate = orders as f64 / (load_s + (total_s - load_s).max(0.0));
    report.record(Figure {
        bench: "e2e.orders_placed_per_s",
        value: orders as f64 / load_s,
        unit: "orders/s",
        baseline: "rate asked".into(),
        baseline_value: rate,
        goal: Some((
            "the load keeps the asked rate (ratio >= 0.95)".into(),
            orders as f64 / load_s >= 0.95 * rate,
        )),
        notes: format!("{notes}; end to end incl. settling: {finished_rate:.0} orders/s"),
    })?;
    record_cpu(report, &demo, &cpu, orders, &notes)
}

/// The machine's CPU per order from the load's start until everything settled (the demo's
/// timeline), beside the most an order may use for 1,000 orders/s on this machine's cores.
fn record_cpu(
    report: &mut Report,
    demo: &Value,
    cpu: &CpuTimeline,
    orders: u64,
    notes: &str,
) -> Result<(), BenchError> {
    let at = |key: &str| {
        demo["timeline"][key]
            .as_u64()
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
            .ok_or_else(|| format!("the demo's report has no timeline.{key}"))
    };
    let used = cpu
        .between(at("load_started_ms")?, at("settled_ms")?)
        .ok_or("the CPU readings do not cover the demo's load and settling")?;
    if !used.measured() {
        eprintln!("e2e.cpu_per_order_ms: not recorded, no CPU readings");
        return Ok(());
    }
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let ms_per_order = |seconds: f64| seconds * 1e3 / orders.max(1) as f64;
    let per_order_ms = ms_per_order(used.busy);
    #[allow(clippy::cast_precision_loss, reason = "a count of cores")]
    let budget_ms = used.cores as f64 * 1e3 / 1000.0;
    let top: Vec<String> = used
        .top(10)
        .iter()
        .map(|(process, s)| format!("{process} {:.2}", ms_per_order(*s)))
        .collect();
    report.record(Figure {
        bench: "e2e.cpu_per_order_ms",
        value: per_order_ms,
        unit: "ms",
        baseline: format!(
            "the most CPU an order may use for 1,000 orders/s on this machine's {} cores",
            used.cores
        ),
        baseline_value: budget_ms,
        goal: None,
        notes: format!(
            "the machine's cores were busy {:.1} s in all over the {:.1} s from the load's \
             start until every order was final and the read models had caught up ({:.2} of {} \
             cores on average), for {orders} orders; ms per order by process (ecommerce alone \
             is the demo: the load generator and the probe): {}; at this cost 1,000 orders/s \
             needs {:.1} cores; {notes}",
            used.busy,
            used.wall.as_secs_f64(),
            used.busy_cores(),
            used.cores,
            top.join(", "),
            per_order_ms
        ),
    })?;
    Ok(())
}
