//! `keel-bench AREA`: Keel's release benchmarks against the real local stack (`make bench`).
//!
//! Each figure is measured beside a baseline (the raw rate of the same work) in the same run,
//! printed as a readable line and appended as one JSON object to `target/bench/results.jsonl`.
//! Areas: `core`, `capture`, `projections`, `sagas`, `e2e`, or `all`; an area whose benchmark
//! is not built yet is skipped with a message (and is an error when asked for by name).

mod capture;
mod core;
mod cpu;
mod e2e;
mod projections;
mod report;
mod sagas;
mod stats;
mod support;

use std::process::ExitCode;

/// What a benchmark returns on failure.
pub(crate) type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Every area, in the order `all` runs them.
const AREAS: [&str; 5] = ["core", "capture", "projections", "sagas", "e2e"];

const USAGE: &str = "usage: keel-bench [core|capture|projections|sagas|e2e|all]";

/// jemalloc: capture allocates per record on one thread and frees on others, where glibc's
/// allocator spent a third of the reader's time waiting for its arena locks (ADR 0047).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let asked = args.next().unwrap_or_else(|| "all".to_owned());
    if args.next().is_some() || asked == "-h" || asked == "--help" {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let all = asked == "all";
    let areas: Vec<&str> = if all {
        AREAS.to_vec()
    } else if let Some(one) = AREAS.iter().find(|a| **a == asked) {
        vec![one]
    } else {
        eprintln!("error: unknown area `{asked}`\n{USAGE}");
        return ExitCode::from(2);
    };

    let mut report = match report::Report::open() {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: cannot open the results file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ran = 0;
    for area in areas {
        let outcome = match area {
            "core" => core::run(&mut report).await,
            "capture" => capture::run(&mut report).await,
            "e2e" => e2e::run(&mut report).await,
            "projections" => projections::run(&mut report).await,
            "sagas" => sagas::run(&mut report).await,
            _ if all => {
                eprintln!("keel-bench: the {area} benchmark is not built yet; skipped");
                continue;
            }
            _ => {
                eprintln!("keel-bench: the {area} benchmark is not built yet");
                return ExitCode::from(2);
            }
        };
        ran += 1;
        if let Err(e) = outcome {
            eprintln!("error: the {area} benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    if ran == 0 {
        eprintln!("keel-bench: no benchmark is built yet");
        return ExitCode::from(2);
    }
    report.finish();
    ExitCode::SUCCESS
}
