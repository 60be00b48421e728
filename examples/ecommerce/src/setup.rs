//! `ecommerce setup`: a clean deployment. Drops and creates the legacy database (with its
//! customers and products), the event store's database, the Kafka topics and consumer groups,
//! the indices and the Redis keys of this namespace, and capture's offsets: the legacy database
//! exists before capture first starts, which then takes its initial snapshot (`snapshot.mode`
//! `initial` in `connector.json`) and streams from there, as with Debezium.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use sqlx::Connection;

use crate::legacy::schema;
use crate::settings::Settings;

/// What setup made.
#[derive(Debug, Clone)]
pub struct SetupReport {
    /// The legacy products.
    pub products: Vec<schema::Product>,
}

/// Resets everything of this namespace and seeds the legacy database with `seed`.
pub async fn run(settings: &Settings, seed: u64) -> crate::Result<SetupReport> {
    let names = settings.names();
    reset_postgres(settings)
        .await
        .map_err(failed("setup", EVENT_STORE))?;
    reset_kafka(settings)
        .await
        .map_err(failed("setup", KAFKA))?;
    delete_read_models(settings)
        .await
        .map_err(failed("setup", READ_MODELS))?;
    std::fs::create_dir_all(remove_state_dir(settings)?)?;

    let mut conn = mysql_async::Conn::from_url(settings.mariadb_url(None)).await?;
    schema::create(&mut conn, &names.database).await?;
    let products = schema::seed(&mut conn, seed).await?;
    conn.disconnect().await?;
    Ok(SetupReport { products })
}

/// `ecommerce teardown`: removes everything of this namespace that setup and its runs made
/// (the legacy database, the event store's database, the topics and consumer groups, the
/// indices, the Redis keys, the state directory), so that namespaces used once, such as the
/// tests', do not pile up on a long-lived stack. The roles must be stopped first.
pub async fn teardown(settings: &Settings) -> crate::Result<()> {
    drop_postgres(settings)
        .await
        .map_err(failed("teardown", EVENT_STORE))?
        .close()
        .await?;
    delete_kafka(settings)
        .await
        .map_err(failed("teardown", KAFKA))?;
    delete_read_models(settings)
        .await
        .map_err(failed("teardown", READ_MODELS))?;
    let mut conn = mysql_async::Conn::from_url(settings.mariadb_url(None)).await?;
    schema::drop_database(&mut conn, &settings.names().database).await?;
    conn.disconnect().await?;
    remove_state_dir(settings)?;
    Ok(())
}

/// What setup and teardown reset or remove, as their errors name it.
const EVENT_STORE: &str = "the event store's database";
const KAFKA: &str = "the Kafka topics and consumer groups";
const READ_MODELS: &str = "the Elasticsearch indices and Redis keys";

/// An error of `command` (`setup`, `teardown`) on `what`, naming both.
fn failed(command: &'static str, what: &'static str) -> impl FnOnce(crate::Error) -> String {
    move |e| format!("{command}: {what}: {e}")
}

/// Removes the namespace's state directory, if there is one; returns its path.
fn remove_state_dir(settings: &Settings) -> crate::Result<std::path::PathBuf> {
    let dir = settings.dir();
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

async fn reset_postgres(settings: &Settings) -> crate::Result<()> {
    let mut conn = drop_postgres(settings).await?;
    let db = settings.names().database;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Drops the event store's database; returns the admin connection it used.
async fn drop_postgres(settings: &Settings) -> crate::Result<sqlx::PgConnection> {
    let db = settings.names().database;
    let mut conn = sqlx::PgConnection::connect(&settings.postgres_admin_url()).await?;
    // A backend the role may not end (an autovacuum worker after a large run, on a server
    // where the role lacks pg_signal_backend) refuses the drop for a moment: try again.
    let mut attempt = 1;
    loop {
        let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        match dropped {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("42501") && attempt < 30 =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => {
                other?;
                break;
            }
        }
    }
    Ok(conn)
}

async fn reset_kafka(settings: &Settings) -> crate::Result<()> {
    let (admin, options) = delete_kafka(settings).await?;
    let topics = settings.names().topics();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let fresh: Vec<NewTopic<'_>> = refs
        .iter()
        .map(|t| {
            let partitions = if t.ends_with(".dlq") {
                1
            } else {
                crate::settings::PARTITIONS
            };
            NewTopic::new(t, partitions, TopicReplication::Fixed(1))
        })
        .collect();
    // A deleted topic takes a moment to go; create until every topic exists anew.
    for attempt in 0..60 {
        let results = admin.create_topics(&fresh, &options).await?;
        let pending: Vec<String> = results
            .into_iter()
            .filter_map(|r| match r {
                Err((topic, code))
                    if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists =>
                {
                    Some(format!("{topic}: {code}"))
                }
                _ => None,
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if attempt == 59 {
            return Err(format!("could not create topics: {}", pending.join(", ")).into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Deletes the namespace's topics and consumer groups; returns the admin client it used.
async fn delete_kafka(
    settings: &Settings,
) -> crate::Result<(AdminClient<DefaultClientContext>, AdminOptions)> {
    let names = settings.names();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &settings.kafka)
        .create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let topics = names.topics();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    // Unknown topics and groups are fine: they are what we want.
    let _ = admin.delete_topics(&refs, &options).await?;
    let groups: Vec<String> = ["translate", "orders", "inventory", "payment", "saga"]
        .iter()
        .map(|g| format!("{}{g}", names.group_prefix))
        .collect();
    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let _ = admin.delete_groups(&group_refs, &options).await?;
    Ok((admin, options))
}

/// Deletes the namespace's indices and Redis keys.
async fn delete_read_models(settings: &Settings) -> crate::Result<()> {
    let names = settings.names();
    let http = reqwest::Client::new();
    for index in [&names.orders_index, &names.customers_index] {
        let url = format!("{}/{index}", settings.elasticsearch.trim_end_matches('/'));
        let response = http.delete(&url).send().await.map_err(|e| {
            format!(
                "elasticsearch at {}: {e} (run make up)",
                settings.elasticsearch
            )
        })?;
        if !(response.status().is_success() || response.status() == reqwest::StatusCode::NOT_FOUND)
        {
            return Err(format!(
                "DELETE {url}: {}",
                response.text().await.unwrap_or_default()
            )
            .into());
        }
    }
    let client = redis::Client::open(settings.redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // SCAN, not KEYS: the Redis is shared, and KEYS over a large one blocks it (and times out).
    for prefix in [&names.order_key_prefix, &names.customer_key_prefix] {
        let mut cursor = 0_u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| format!("redis at {}: {e} (run make up)", settings.redis))?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(())
}
