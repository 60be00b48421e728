//! The command line.

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// The Keel e-commerce example: a legacy MariaDB order database, captured, event-sourced,
/// projected into Elasticsearch and Redis, and fulfilled by sagas.
#[derive(Debug, Parser)]
#[command(name = "ecommerce", version)]
pub struct Cli {
    /// Where the services are, and the deployment's namespace.
    #[command(flatten)]
    pub settings: Settings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drop and create everything of this deployment, with the starting customers and products.
    Setup {
        /// Seed of the starting data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Remove everything of this deployment: databases, topics, consumer groups, indices, Redis
    /// keys and the state directory (stop its roles first).
    Teardown,
    /// Place orders as the legacy application does.
    Load {
        /// Orders to place.
        #[arg(long, default_value_t = 100)]
        orders: u64,
        /// Orders per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Role: MariaDB binlog → Kafka.
    Capture,
    /// Role: change events → domain events.
    Translate,
    /// Role: domain events → Elasticsearch and Redis.
    Project,
    /// Role: the saga orchestrator and the `orders` participant (with choreography: the
    /// orders reactor).
    Saga,
    /// Role: the inventory participant.
    Inventory,
    /// Role: the payment participant.
    Payment,
    /// Every role, each as its own process, until ctrl-c.
    All,
    /// An order's state at a time, or its history after one.
    Replay {
        /// What to replay (`order`).
        #[arg(value_parser = ["order"])]
        entity: String,
        /// The order id.
        id: i64,
        /// Print the state at this RFC 3339 time.
        #[arg(long)]
        at: Option<String>,
        /// Print each event after this RFC 3339 time with the state it produced.
        #[arg(long)]
        from: Option<String>,
    },
    /// Setup, every role, the load, the checks and the report, on a fresh deployment.
    Demo {
        /// Orders to place.
        #[arg(long, env = "ORDERS", default_value_t = 2000)]
        orders: u64,
        /// Orders per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// SIGKILL this many roles at random moments (restarting each).
        #[arg(long, default_value_t = 0)]
        kills: u32,
        /// Probe the latency of every n-th order (1: all).
        #[arg(long, default_value_t = 1)]
        probe_every: u64,
        /// Longest wait, in seconds, for the system to settle after the load.
        #[arg(long, default_value_t = 600)]
        settle_timeout: u64,
    },
}
