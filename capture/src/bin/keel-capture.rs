//! `keel-capture run --config connector.json [--exit-at-end] [--resume-by position|gtid]`:
//! MariaDB binlog to Kafka.

use std::path::PathBuf;
use std::process::ExitCode;

use keel_capture::offsets::ResumeBy;
use keel_capture::{Capture, ConnectorConfig};
use tracing::{error, info, warn};

const USAGE: &str =
    "usage: keel-capture run --config <connector.json> [--exit-at-end] [--resume-by position|gtid]";

#[derive(Debug)]
struct Args {
    config: PathBuf,
    exit_at_end: bool,
    resume_by: ResumeBy,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("run") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
        None => return Err("missing command".into()),
    }
    let (mut config, mut exit_at_end, mut resume_by) = (None, false, ResumeBy::Position);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config = Some(PathBuf::from(args.next().ok_or("--config needs a path")?)),
            "--exit-at-end" => exit_at_end = true,
            "--resume-by" => {
                resume_by = match args.next().as_deref() {
                    Some("position") => ResumeBy::Position,
                    Some("gtid") => ResumeBy::Gtid,
                    _ => return Err("--resume-by accepts position or gtid".into()),
                }
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        config: config.ok_or("--config is required")?,
        exit_at_end,
        resume_by,
    })
}

/// jemalloc: capture allocates per record on one thread and frees on others, where glibc's
/// allocator spent a third of the reader's time waiting for its arena locks (ADR 0047).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(reason) => {
            error!(%reason, usage = USAGE, "Invalid arguments.");
            return ExitCode::from(2);
        }
    };
    let parsed = match ConnectorConfig::from_file(&args.config) {
        Ok(p) => p,
        Err(error) => {
            error!(%error, "Invalid connector configuration.");
            return ExitCode::from(2);
        }
    };
    if !parsed.unknown_keys.is_empty() {
        warn!(keys = %parsed.unknown_keys.join(", "), "Ignoring configuration keys this connector does not know.");
    }
    let capture = Capture::new(parsed.config)
        .exit_at_end(args.exit_at_end)
        .resume_by(args.resume_by);
    match capture.run().await {
        Ok(summary) => {
            info!(
                records = summary.records_sent,
                acknowledged = summary.records_acknowledged,
                "Done."
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!(%error, "Capture failed.");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_run_config_and_exit_at_end() {
        let a = args(&["run", "--config", "c.json", "--exit-at-end"]).unwrap();
        assert_eq!(a.config, PathBuf::from("c.json"));
        assert!(a.exit_at_end);
        assert!(!args(&["run", "--config", "c.json"]).unwrap().exit_at_end);
        let a = args(&["run", "--resume-by", "gtid", "--config", "c.json"]).unwrap();
        assert_eq!(a.resume_by, ResumeBy::Gtid);
        assert_eq!(
            args(&["run", "--config", "c"]).unwrap().resume_by,
            ResumeBy::Position
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(args(&[]).unwrap_err().contains("missing command"));
        assert!(args(&["start"]).unwrap_err().contains("start"));
        assert!(args(&["run"]).unwrap_err().contains("--config"));
        assert!(args(&["run", "--config"]).unwrap_err().contains("path"));
        assert!(
            args(&["run", "--config", "c", "--x"])
                .unwrap_err()
                .contains("--x")
        );
    }
}
