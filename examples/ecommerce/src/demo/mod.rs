//! `ecommerce demo`: the whole system on a fresh deployment. Sets up, starts every role as its
//! own process, runs the load while probing latency (and, with `--kills`, SIGKILLs roles at
//! random moments and restarts them), waits until quiet, runs the checks on what the stores
//! hold, prints the figures, and ends with one JSON line. Fails when a check fails.

pub mod checks;
pub mod observed;
pub mod probe;
pub mod rebuild;
pub mod report;
pub mod settle;
pub mod stores;
pub mod traces;

use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::legacy::load::{self, LoadPlan};
use crate::legacy::rng::Rng;
use crate::roles::supervisor::{ROLES, Supervisor};
use crate::settings::Settings;

pub use report::{Report, Timeline};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The load.
    pub plan: LoadPlan,
    /// Roles to SIGKILL during the load (0: none).
    pub kills: u32,
    /// Longest wait for quiet after the load.
    pub settle_timeout: Duration,
    /// Probe every n-th order's latency (1: every order).
    pub probe_every: u64,
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

/// Runs the demo; the report says whether every check passed.
pub async fn run(settings: &Settings, options: &DemoOptions) -> crate::Result<Report> {
    step(&format!(
        "setup: a fresh `{}` deployment (MariaDB, PostgreSQL, Kafka, Elasticsearch, Redis)",
        settings.names().database
    ));
    let setup = crate::setup::run(settings, options.plan.seed).await?;
    step(&format!(
        "roles: {} (logs in {})",
        ROLES.join(", "),
        settings.dir().join("logs").display()
    ));
    let mut supervisor = Supervisor::new(settings)?;
    supervisor.start_all()?;
    let result = drive(settings, options, &setup.products, &mut supervisor).await;
    supervisor.stop_all().await;
    result
}

async fn drive(
    settings: &Settings,
    options: &DemoOptions,
    products: &[crate::legacy::schema::Product],
    supervisor: &mut Supervisor,
) -> crate::Result<Report> {
    let stores = stores::Stores::open(settings).await?;
    step("primed: waiting for the starting customers and products to flow through");
    settle::primed(&stores, supervisor, Duration::from_secs(120)).await?;
    let plan = &options.plan;
    step(&format!(
        "load: {} orders at {}/s (seed {}){}",
        plan.orders,
        plan.rate,
        plan.seed,
        if options.kills > 0 {
            format!(", killing a role {} times", options.kills)
        } else {
            String::new()
        }
    ));
    let load_started = SystemTime::now();
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    let (probe_every, patience) = (options.probe_every, options.settle_timeout);
    let probe = tokio::spawn({
        let settings = settings.clone();
        async move {
            probe::run(&settings, committed_rx, probe_every, patience)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let pool = mysql_async::Pool::new(
        settings
            .mariadb_url(Some(&settings.names().database))
            .as_str(),
    );
    let load = {
        let (pool, products, plan) = (pool.clone(), products.to_vec(), plan.clone());
        tokio::spawn(async move {
            load::run(&pool, &products, &plan, Some(committed_tx), true)
                .await
                .map_err(|e| e.to_string())
        })
    };
    inject_faults(supervisor, options).await?;
    let load_report = load.await??;
    let latencies = probe.await??;

    step("settle: waiting until every order is final and the read models caught up");
    settle::wait(&stores, supervisor, options.settle_timeout).await?;
    let timeline = Timeline::new(load_started, SystemTime::now());

    step("checks: reading MariaDB, the event store, Elasticsearch, Redis and Jaeger");
    let observed = observed::Observed::gather(&stores).await?;
    let (mut checks, figures) = checks::evaluate(&observed);
    checks.push(rebuild::check(&stores).await?);
    let confirmed = traces::candidates(&stores, "completed", 1)
        .await?
        .into_iter()
        .next();
    let compensated = traces::candidates(&stores, "compensated", 10).await?;
    let (trace_check, compensated) = traces::check(&stores, &compensated).await?;
    checks.push(trace_check);
    pool.disconnect().await?;
    Ok(Report::new(
        settings.saga,
        load_report,
        timeline,
        figures,
        &latencies,
        checks,
        confirmed,
        compensated,
        &supervisor.kills,
    ))
}

/// With `--kills n`: SIGKILL a role every load-duration / (n + 1), every role once per round in
/// a seeded order, and restart it after a short pause.
async fn inject_faults(supervisor: &mut Supervisor, options: &DemoOptions) -> crate::Result<()> {
    if options.kills == 0 {
        return Ok(());
    }
    #[allow(clippy::cast_precision_loss)]
    let seconds = options.plan.orders as f64 / options.plan.rate;
    let every = Duration::from_secs_f64(seconds / f64::from(options.kills + 1));
    let mut rng = Rng::new(options.plan.seed.wrapping_add(7));
    let mut order: Vec<&'static str> = Vec::new();
    for i in 0..options.kills {
        if (i as usize).is_multiple_of(ROLES.len()) {
            let mut round = ROLES.to_vec();
            for j in (1..round.len()).rev() {
                let k = usize::try_from(rng.range(0, i64::try_from(j).unwrap_or(0))).unwrap_or(0);
                round.swap(j, k);
            }
            order.extend(round);
        }
    }
    for role in order.into_iter().take(options.kills as usize) {
        tokio::time::sleep(every).await;
        supervisor.kill(role).await?;
        eprintln!("    killed {role} (SIGKILL); restarting");
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(rng.range(200, 1500)).unwrap_or(500),
        ))
        .await;
        supervisor.start(role)?;
    }
    Ok(())
}
