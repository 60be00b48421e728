//! Helpers shared by the integration test files: a unique database and topic prefix per
//! test, reading a topic back, folding change events.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use keel_capture::ConnectorConfig;
use keel_capture::offsets::Offset;
use keel_core::testing::stack;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value as Json;

pub mod connect;

/// A unique database created as root, dropped by [`Fixture::drop_db`].
pub struct Fixture {
    pub root: Conn,
    pub db: String,
    pub prefix: String,
    pub dir: PathBuf,
}

impl Fixture {
    pub async fn new(tag: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        stack::mariadb().require();
        stack::kafka().require();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db = format!("keel_cap_{tag}_{}", &id[..8]);
        let mut root = Conn::new(Opts::from_url(&stack::mariadb_root().require().url).unwrap())
            .await
            .unwrap();
        root.query_drop("SET time_zone = '+00:00'").await.unwrap();
        root.query_drop(format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("keel-capture-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            root,
            prefix: format!("it{}", &id[..12]),
            db,
            dir,
        }
    }

    /// The binlog end now, as root sees it.
    pub async fn position(&mut self) -> Offset {
        let row: mysql_async::Row = self
            .root
            .query_first("SHOW MASTER STATUS")
            .await
            .unwrap()
            .unwrap();
        Offset::at(
            row.get::<String, _>(0).unwrap(),
            row.get::<u64, _>(1).unwrap(),
        )
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> ConnectorConfig {
        let kafka = stack::kafka().url;
        let server_id = (1_000_000 + uuid::Uuid::new_v4().as_u128() % 1_000_000).to_string();
        let offsets = self.dir.join("offsets.json").display().to_string();
        // Explicit: with offsets in Kafka or PostgreSQL the default would be the working
        // directory (the crate's source tree).
        let history = self.dir.join("schema-history.jsonl").display().to_string();
        let mut props: BTreeMap<String, String> = [
            (
                "connector.class",
                "io.debezium.connector.mariadb.MariaDbConnector",
            ),
            ("database.hostname", "127.0.0.1"),
            ("database.port", "3306"),
            ("database.user", "keel"),
            ("database.password", "keel"),
            ("database.server.id", server_id.as_str()),
            ("topic.prefix", self.prefix.as_str()),
            ("database.include.list", self.db.as_str()),
            ("kafka.bootstrap.servers", kafka.as_str()),
            ("include.schema.changes", "false"),
            ("offset.storage.file.filename", offsets.as_str()),
            ("schema.history.internal.file.filename", history.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            props.insert((*k).to_owned(), (*v).to_owned());
        }
        ConnectorConfig::from_properties("it", &props)
            .unwrap()
            .config
    }

    pub fn topic(&self, table: &str) -> String {
        format!("{}.{}.{table}", self.prefix, self.db)
    }

    pub async fn drop_db(mut self) {
        self.root
            .query_drop(format!("DROP DATABASE {}", self.db))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every record of `topic`: (key, value) as JSON, `Json::Null` for a tombstone's value.
pub fn read_topic(topic: &str, expected: usize) -> Vec<(Json, Json)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", stack::kafka().url)
        .set("group.id", format!("it-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut quiet_since: Option<std::time::Instant> = None;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let parse =
                    |b: Option<&[u8]>| b.map_or(Json::Null, |b| serde_json::from_slice(b).unwrap());
                out.push((parse(m.key()), parse(m.payload())));
                quiet_since = None;
            }
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None if out.len() >= expected => {
                // Linger a little to catch duplicates beyond the expected count.
                let since = *quiet_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(2) {
                    break;
                }
            }
            None => {}
        }
    }
    out
}

/// Applies change events in order: key → after, removed on delete.
pub fn fold(records: &[(Json, Json)]) -> BTreeMap<String, Json> {
    let mut state = BTreeMap::new();
    for (key, value) in records {
        if value.is_null() {
            continue;
        }
        match value["op"].as_str().unwrap() {
            "d" => {
                state.remove(&key.to_string());
            }
            _ => {
                state.insert(key.to_string(), value["after"].clone());
            }
        }
    }
    state
}

pub fn ops(records: &[(Json, Json)]) -> Vec<String> {
    records
        .iter()
        .map(|(_, v)| v["op"].as_str().unwrap_or("tombstone").to_owned())
        .collect()
}

/// One record read back with its headers (values as UTF-8 text, `None` for null).
#[derive(Debug, Clone)]
pub struct Received {
    pub key: Json,
    pub value: Json,
    pub headers: BTreeMap<String, Option<String>>,
}

/// Every record of `topic` with its headers; waits for `expected`, then lingers 2 s for more.
pub fn read_topic_with_headers(topic: &str, expected: usize) -> Vec<Received> {
    use rdkafka::message::Headers;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", stack::kafka().url)
        .set("group.id", format!("it-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut quiet_since: Option<std::time::Instant> = None;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let parse =
                    |b: Option<&[u8]>| b.map_or(Json::Null, |b| serde_json::from_slice(b).unwrap());
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Received {
                    key: parse(m.key()),
                    value: parse(m.payload()),
                    headers,
                });
                quiet_since = None;
            }
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None if out.len() >= expected => {
                let since = *quiet_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(2) {
                    break;
                }
            }
            None => {}
        }
    }
    out
}
