//! The production offset stores against the real stack: a compacted Kafka topic and a
//! PostgreSQL table. Each is stored only behind Kafka's acknowledgements, read back on restart,
//! and a capture stopped inside a transaction resumes from it without loss or duplicates. Run
//! with `cargo test -p keel-capture --features integration --test offset_stores`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use keel_capture::offsets::{Offset, OffsetStore};
use keel_capture::{Capture, ConnectorConfig};
use keel_core::testing::stack;
use mysql_async::prelude::Queryable;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value as Json, json};
use sqlx::Connection;

mod common;
use common::{Fixture, fold, read_topic};

/// Ten inserts in one transaction, then an update of three rows and a delete: 15 records.
async fn write_changes(fx: &mut Fixture) -> Offset {
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"))
        .await
        .unwrap();
    let start = fx.position().await;
    let mut tx = fx.root.start_transaction(Default::default()).await.unwrap();
    for i in 0..10 {
        tx.exec_drop(format!("INSERT INTO {db}.t VALUES (?, ?)"), (i, i))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    fx.root
        .query_drop(format!("UPDATE {db}.t SET v = v + 100 WHERE id < 3"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("DELETE FROM {db}.t WHERE id = 9"))
        .await
        .unwrap();
    start
}

/// Stops a first run after 4 records (inside the transaction), checks what `stored` says the
/// store holds, resumes, and compares the topic with the table.
async fn stop_and_resume(fx: &mut Fixture, extra: &[(&str, &str)], stored: impl AsyncStored) {
    let start = write_changes(fx).await;
    let first = Capture::new(fx.config(extra))
        .start_at(start.clone())
        .stop_after_records(4)
        .show_progress(false)
        .run()
        .await
        .unwrap();
    assert_eq!(first.records_acknowledged, 4);
    let offset = first.offset.unwrap();
    assert_eq!(offset.skip, 4, "{offset:?}");
    assert_eq!(
        stored.read().await,
        Some(offset.clone()),
        "the store holds the last offset"
    );
    assert!(
        !fx.dir.join("offsets.json").exists(),
        "nothing is written to the offsets file"
    );

    // The second run resumes from the store (start_at is ignored once it holds an offset).
    let second = Capture::new(fx.config(extra))
        .start_at(start)
        .exit_at_end(true)
        .show_progress(false)
        .run()
        .await
        .unwrap();
    assert_eq!(second.records_sent, 6 + 3 + 2);
    let records = read_topic(&fx.topic("t"), 15);
    assert_eq!(records.len(), 15, "no record lost or sent twice");
    let db = fx.db.clone();
    let rows: Vec<(i32, i32)> = fx
        .root
        .query(format!("SELECT id, v FROM {db}.t"))
        .await
        .unwrap();
    let expected: BTreeMap<String, Json> = rows
        .into_iter()
        .map(|(id, v)| (json!({"id": id}).to_string(), json!({"id": id, "v": v})))
        .collect();
    assert_eq!(fold(&records), expected);
    let last = stored.read().await.unwrap();
    assert_eq!(Some(last.clone()), second.offset);
    assert_eq!(last.skip, 0, "the end of a transaction: {last:?}");

    // A third run finds nothing left to do.
    let third = Capture::new(fx.config(extra))
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(third.records_sent, 0);
}

/// Reads what a store holds, independently of capture.
trait AsyncStored {
    async fn read(&self) -> Option<Offset>;
}

/// The offsets topic read with a plain consumer: the newest record under the connector's key.
struct TopicReader {
    topic: String,
    key: Json,
}

impl AsyncStored for TopicReader {
    async fn read(&self) -> Option<Offset> {
        let records = read_topic(&self.topic, 1);
        records
            .iter()
            .rev()
            .find(|(k, _)| *k == self.key)
            .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
    }
}

/// The offsets table read with a plain query.
struct TableReader {
    table: String,
}

impl AsyncStored for TableReader {
    async fn read(&self) -> Option<Offset> {
        let mut pg = sqlx::PgConnection::connect(&stack::postgres().url)
            .await
            .unwrap();
        let row: Option<(Json,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT offset_value FROM {} WHERE connector = 'it'",
            self.table
        )))
        .fetch_optional(&mut pg)
        .await
        .unwrap();
        row.map(|(v,)| serde_json::from_value(v).unwrap())
    }
}

async fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", stack::kafka().url)
        .create()
        .unwrap()
}

async fn cleanup_policy(topic: &str) -> String {
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let configs = admin()
        .await
        .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
        .await
        .unwrap();
    let resource = configs.into_iter().next().unwrap().unwrap();
    resource
        .get("cleanup.policy")
        .and_then(|e| e.value.clone())
        .unwrap()
}

#[tokio::test]
async fn a_kafka_topic_stores_offsets_and_a_restart_resumes_from_it() {
    let mut fx = Fixture::new("kafkaoff").await;
    let topic = format!("{}.offsets", fx.prefix);
    let prefix = fx.prefix.clone();
    stop_and_resume(
        &mut fx,
        &[("offset.storage.topic", topic.as_str())],
        TopicReader {
            topic: topic.clone(),
            key: json!(["it", {"server": prefix}]),
        },
    )
    .await;
    assert_eq!(cleanup_policy(&topic).await, "compact");
    fx.drop_db().await;
}

#[tokio::test]
async fn a_postgres_table_stores_offsets_and_a_restart_resumes_from_it() {
    let pg_url = stack::postgres().require().url;
    let mut fx = Fixture::new("pgoff").await;
    let table = format!("keel_capture_offsets_{}", fx.prefix);
    stop_and_resume(
        &mut fx,
        &[
            (
                "offset.storage",
                "io.debezium.storage.jdbc.offset.JdbcOffsetBackingStore",
            ),
            ("offset.storage.jdbc.url", pg_url.as_str()),
            ("offset.storage.jdbc.offset.table.name", table.as_str()),
        ],
        TableReader {
            table: table.clone(),
        },
    )
    .await;
    let mut pg = sqlx::PgConnection::connect(&pg_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut pg)
        .await
        .unwrap();
    fx.drop_db().await;
}

fn config(fx: &Fixture, extra: &[(&str, &str)]) -> ConnectorConfig {
    fx.config(extra)
}

#[tokio::test]
async fn each_store_returns_the_offset_saved_last() {
    let pg_url = stack::postgres().require().url;
    let fx = Fixture::new("stores").await;
    let topic = format!("{}.offsets", fx.prefix);
    let table = format!("keel_capture_offsets_{}", fx.prefix);
    let jdbc = pg_url.replacen("postgres://keel:keel@", "jdbc:postgresql://", 1);
    let configs = [
        config(&fx, &[]),
        config(&fx, &[("offset.storage.topic", topic.as_str())]),
        config(
            &fx,
            &[
                ("offset.storage.jdbc.url", jdbc.as_str()),
                ("offset.storage.jdbc.user", "keel"),
                ("offset.storage.jdbc.password", "keel"),
                ("offset.storage.jdbc.offset.table.name", table.as_str()),
            ],
        ),
    ];
    for config in &configs {
        let store = OffsetStore::open(config).await.unwrap();
        assert_eq!(store.load().await.unwrap(), None, "{store:?} starts empty");
        let mut offset = Offset::at("binlog.000007", 1234);
        offset.gtid_position = Some("0-1-99".into());
        store.save(&offset).await.unwrap();
        offset.pos = 5678;
        offset.skip = 2;
        store.save(&offset).await.unwrap();
        // A store opened anew (as after a restart) reads the newest.
        let again = OffsetStore::open(config).await.unwrap();
        assert_eq!(again.load().await.unwrap(), Some(offset), "{again:?}");
    }

    // Another connector's key in the same topic is not ours.
    let mut other = config(&fx, &[("offset.storage.topic", topic.as_str())]);
    other.name = "someone-else".into();
    let store = OffsetStore::open(&other).await.unwrap();
    assert_eq!(store.load().await.unwrap(), None);

    let mut pg = sqlx::PgConnection::connect(&pg_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut pg)
        .await
        .unwrap();
    fx.drop_db().await;
}

#[tokio::test]
async fn an_offsets_topic_that_is_not_compacted_is_refused() {
    let fx = Fixture::new("delpol").await;
    let topic = format!("{}.offsets", fx.prefix);
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "delete");
    for r in admin().await.create_topics([&new], &opts).await.unwrap() {
        r.unwrap();
    }
    let error = OffsetStore::open(&fx.config(&[("offset.storage.topic", topic.as_str())]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cleanup.policy=compact") && error.contains(&topic),
        "{error}"
    );
    fx.drop_db().await;
}
