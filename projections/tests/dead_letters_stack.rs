//! Dead letters against the real services of `make up`: the PostgreSQL destination, and a
//! document the real Redis refuses routed to the event store's SQLite database.

#![cfg(feature = "integration")]

mod common;

use common::*;
use keel_core::store::{PostgresStore, SqliteStore};
use keel_core::testing::stack;
use keel_projections::dead_letter::{
    DeadLetterStage, DeadLetterStore, PostgresDeadLetters, SqliteDeadLetters,
};
use keel_projections::sinks::redis::{RedisFormat, RedisSink, RedisSinkConfig};
use keel_projections::{DocChange, Envelope, Projection, ProjectionRunner};
use redis::AsyncCommands;

#[tokio::test]
async fn postgres_dead_letters_keep_letters_once_with_every_field() {
    let url = stack::postgres().require().url;
    let store = PostgresStore::connect(&url).await.unwrap();
    let letters = PostgresDeadLetters::from_pool(store.pool().clone())
        .await
        .unwrap();
    dead_letters::keeps_letters_once_with_every_field(letters).await;
}

/// Order totals as bare numbers: a document the hash format cannot store.
struct Totals(String);

impl Projection for Totals {
    type Event = ShopEvent;
    type Doc = i64;
    fn name(&self) -> &str {
        &self.0
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["OrderPlaced"]
    }
    fn apply(&self, e: &Envelope<'_, ShopEvent>, _: Option<i64>) -> DocChange<i64> {
        match &e.event {
            ShopEvent::OrderPlaced { total_cents, .. } => DocChange::Upsert(*total_cents),
            _ => DocChange::Unchanged,
        }
    }
}

#[tokio::test]
async fn a_document_redis_refuses_is_dead_lettered_in_the_event_stores_database() {
    stack::redis().require();
    let dir = std::env::temp_dir().join(unique("keel-test-dead-letters", '-'));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}/events.db", dir.display()))
        .await
        .unwrap();
    append(&store, "order-1", &[placed("ada", 4200)]).await;
    let prefix = format!("{}:", unique("keel-test-refused", '-'));
    let sink = RedisSink::build(RedisSinkConfig {
        key_prefix: prefix.clone(),
        format: RedisFormat::Hash,
        ..RedisSinkConfig::new(stack::redis().url)
    })
    .await
    .unwrap();
    let letters = SqliteDeadLetters::from_pool(store.pool().clone())
        .await
        .unwrap();
    let name = unique("totals", '-');
    let runner = ProjectionRunner::new(store.clone(), Totals(name.clone()))
        .with_sink(sink)
        .with_dead_letters(letters.clone());
    assert_eq!(runner.catch_up().await.unwrap(), 1);
    assert_eq!(runner.lag().await.unwrap().events_behind, 0);

    let stored = letters.list(&name).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0].stage,
        DeadLetterStage::Sink {
            sink: "redis".into(),
            key: "order-1".into()
        }
    );
    assert_eq!(stored[0].stream_id, "order-1");
    assert_eq!(stored[0].event_type, "OrderPlaced");
    assert_eq!(stored[0].payload["total_cents"], 4200);
    assert!(
        stored[0].reason.contains("JSON objects only"),
        "{}",
        stored[0].reason
    );
    let mut c = redis::Client::open(stack::redis().url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    assert!(
        !c.exists::<_, bool>(format!("{prefix}order-1"))
            .await
            .unwrap()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
