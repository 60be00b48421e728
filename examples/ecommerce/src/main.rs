//! `ecommerce`: the example's command line. See `ecommerce --help`.

#![allow(clippy::print_stdout)] // the reports and JSON lines are the program's output

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use ecommerce::cli::{Cli, Command};
use ecommerce::roles::shutdown_signal;
use ecommerce::settings::SagaStyle;
use ecommerce::{Result, demo, legacy, replay, roles, setup};

fn service(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Capture => "ecommerce-capture",
        Command::Translate => "ecommerce-translate",
        Command::Project => "ecommerce-project",
        Command::Saga => "ecommerce-saga",
        Command::Inventory => "ecommerce-inventory",
        Command::Payment => "ecommerce-payment",
        _ => return None,
    })
}

/// jemalloc: capture allocates per record on one thread and frees on others, where glibc's
/// allocator spent a third of the reader's time waiting for its arena locks (ADR 0047).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Roles export traces to Jaeger; the other commands only log.
    let _telemetry = match service(&cli.command) {
        Some(name) => match keel::telemetry::init(name) {
            Ok(guard) => Some(guard),
            Err(error) => {
                eprintln!("error: tracing: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let settings = &cli.settings;
    match cli.command {
        Command::Setup { seed } => {
            let report = setup::run(settings, seed).await?;
            eprintln!(
                "created `{}` with {} products; capture snapshots it when it first starts",
                settings.names().database,
                report.products.len()
            );
        }
        Command::Teardown => {
            setup::teardown(settings).await?;
            eprintln!("removed everything of `{}`", settings.names().database);
        }
        Command::Load { orders, rate, seed } => {
            let pool = mysql_async::Pool::new(
                settings
                    .mariadb_url(Some(&settings.names().database))
                    .as_str(),
            );
            let products = legacy::schema::products(&mut pool.get_conn().await?).await?;
            let plan = legacy::load::LoadPlan { orders, rate, seed };
            let report = legacy::load::run(&pool, &products, &plan, None, true).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Capture => roles::capture::run(settings).await?,
        Command::Translate => roles::translate::run(settings, shutdown_signal()).await?,
        Command::Project => roles::project::run(settings, shutdown_signal()).await?,
        Command::Saga | Command::Inventory | Command::Payment => {
            let role = match cli.command {
                Command::Saga => "orders",
                Command::Inventory => "inventory",
                _ => "payment",
            };
            match settings.saga {
                SagaStyle::Orchestration if role == "orders" => {
                    roles::saga::run(settings, shutdown_signal()).await?;
                }
                SagaStyle::Orchestration => {
                    roles::participants::run(settings, role, shutdown_signal()).await?;
                }
                SagaStyle::Choreography => {
                    roles::choreography::run(settings, role, shutdown_signal()).await?;
                }
            }
        }
        Command::All => roles::supervisor::run_all(settings).await?,
        Command::Replay { id, at, from, .. } => {
            let at = at.map(|t| replay::parse_time("--at", &t)).transpose()?;
            let from = from.map(|t| replay::parse_time("--from", &t)).transpose()?;
            if at.is_none() && from.is_none() {
                return Err("replay needs --at <time> or --from <time>".into());
            }
            replay::order(settings, id, at, from).await?;
        }
        Command::Demo {
            orders,
            rate,
            seed,
            kills,
            probe_every,
            settle_timeout,
        } => {
            let options = demo::DemoOptions {
                plan: legacy::load::LoadPlan { orders, rate, seed },
                kills,
                settle_timeout: Duration::from_secs(settle_timeout),
                probe_every,
            };
            let report = demo::run(settings, &options).await?;
            report.print()?;
            if !report.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
