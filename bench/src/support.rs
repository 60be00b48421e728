//! What the sagas and projections areas share: sizes from the environment, progress bars,
//! rates, a database of their own per run, and Kafka topics and groups removed per run.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

use crate::BenchError;

/// `name` from the environment as a number, or `default` when unset or not a number.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `name` from the environment as a number, or `default` when unset or not a number.
pub(crate) fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
        .unwrap_or(default)
}

/// A progress bar on stderr with a rate and an ETA.
pub(crate) fn bar(len: usize, message: impl Into<String>) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:<34} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .map_or_else(
        |_| ProgressStyle::default_bar(),
        |s| s.progress_chars("=> "),
    );
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_message(message.into())
}

/// `n` per second over `elapsed`.
#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
pub(crate) fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// A short id that makes a run's names unique (databases, topics, indices, keys).
pub(crate) fn run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..12].to_owned()
}

/// A PostgreSQL database created for one run and dropped at its end, so that what the run
/// measures (a fresh projection's catch-up, the saga tables) sees only the run's own rows.
pub(crate) struct TempDatabase {
    admin: PgPool,
    name: String,
    /// The URL of the new database.
    pub(crate) url: String,
}

impl TempDatabase {
    /// Creates database `name` through the stack's database at `admin_url`.
    pub(crate) async fn create(admin_url: &str, name: &str) -> Result<Self, BenchError> {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(admin_url)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {admin_url} ({e}): run make up"))?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        Ok(Self {
            admin,
            name: name.to_owned(),
            url: format!("{root}/{name}"),
        })
    }

    /// The database's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, closing the connections still open to it.
    pub(crate) async fn drop_database(&self) -> Result<(), BenchError> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await?;
        Ok(())
    }
}

fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, BenchError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?)
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(15)))
        .request_timeout(Some(Duration::from_secs(15)))
}

/// Creates `topics` with `partitions` partitions each (replication 1, the local broker).
pub(crate) async fn create_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
) -> Result<(), BenchError> {
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = admin(brokers)?
        .create_topics(&new, &admin_options())
        .await
        .map_err(|e| format!("cannot reach Kafka at {brokers} ({e}): run make up"))?;
    for result in results {
        result.map_err(|(topic, code)| format!("cannot create topic {topic}: {code}"))?;
    }
    Ok(())
}

/// Deletes `topics`; those that do not exist (a dead-letter topic never used) are skipped.
/// Returns how many were deleted.
pub(crate) async fn delete_topics(brokers: &str, topics: &[String]) -> Result<usize, BenchError> {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let results = admin(brokers)?
        .delete_topics(&names, &admin_options())
        .await?;
    Ok(results.iter().filter(|r| r.is_ok()).count())
}

/// Deletes the consumer groups `groups` (their members gone); returns how many were deleted.
pub(crate) async fn delete_groups(brokers: &str, groups: &[String]) -> Result<usize, BenchError> {
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let results = admin(brokers)?
        .delete_groups(&names, &admin_options())
        .await?;
    Ok(results.iter().filter(|r| r.is_ok()).count())
}
