//! The Kafka dead-letter topic against the real Kafka of `make up`: letters round-trip through
//! the topic, and a projection's poison event lands there with its projection, position and
//! reason as headers while the projection goes on.

#![cfg(feature = "integration")]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use keel_core::store::{CheckpointStore, EventStore, ExpectedVersion, MemoryStore};
use keel_core::testing::stack;
use keel_core::{NewEvent, Position};
use keel_projections::dead_letter::kafka::{
    DEAD_LETTER_ID, ERROR, POSITION, PROJECTION, STAGE, dead_letter_id,
};
use keel_projections::dead_letter::{DeadLetterStore, KafkaDeadLetterConfig, KafkaDeadLetters};
use keel_projections::sinks::MemorySink;
use keel_projections::{ErrorTolerance, ProjectionRunner, RunnerConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::json;

/// Every record of partition 0 of `topic`: key, value and headers.
type Raw = (Option<String>, Option<String>, HashMap<String, String>);

async fn records(brokers: &str, topic: &str) -> Vec<Raw> {
    let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", unique("keel-test-dlq-reader", '-'))
            .create()
            .expect("consumer");
        let (low, high) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(10))
            .expect("watermarks");
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&topic, 0, Offset::Offset(low))
            .expect("partition 0");
        consumer.assign(&list).expect("assign");
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while out.len() < usize::try_from(high - low).expect("watermarks in order") {
            assert!(std::time::Instant::now() < deadline, "reading {topic}");
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message.expect("a record");
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), text(h.value).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((text(message.key()), text(message.payload()), headers));
        }
        out
    })
    .await
    .expect("reading task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_dead_letters_keep_letters_once_with_every_field() {
    let brokers = stack::kafka().require().url;
    let topic = unique("keel-test-projection-dlq", '-');
    let letters = KafkaDeadLetters::build(KafkaDeadLetterConfig::new(&brokers, &topic))
        .await
        .expect("destination built, topic created");
    let projection = dead_letters::keeps_letters_once_with_every_field(letters).await;

    // The topic itself is at least once: the repeated puts are there, each with the letter's id.
    let raw = records(&brokers, &topic).await;
    let ours: Vec<&Raw> = raw
        .iter()
        .filter(|(_, _, h)| h.get(PROJECTION) == Some(&projection))
        .collect();
    assert_eq!(ours.len(), 8, "five letters, three of them put twice");
    let ids: std::collections::HashSet<&String> =
        ours.iter().map(|(_, _, h)| &h[DEAD_LETTER_ID]).collect();
    assert_eq!(ids.len(), 5, "one id per letter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_goes_to_the_topic_with_projection_position_and_reason_and_the_projection_goes_on()
 {
    let brokers = stack::kafka().require().url;
    let topic = unique("keel-test-projection-dlq", '-');
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("ada", 4200)]).await;
    let bad = NewEvent {
        payload: json!({"customer": 5, "total_cents": 1}),
        ..NewEvent::from_domain(&placed("a", 1)).expect("an event")
    };
    store
        .append("order-9", ExpectedVersion::Any, vec![bad.clone()])
        .await
        .unwrap();
    append(&store, "order-2", &[placed("bob", 100)]).await;

    let letters = KafkaDeadLetters::build(KafkaDeadLetterConfig::new(&brokers, &topic))
        .await
        .unwrap();
    let sink = MemorySink::new();
    let name = unique("orders", '-');
    let runner = ProjectionRunner::new(store.clone(), Orders(name.clone()))
        .with_sink(sink.clone())
        .with_dead_letters(letters)
        .with_config(RunnerConfig {
            batch_size: 10,
            errors_tolerance: ErrorTolerance::All,
            ..RunnerConfig::default()
        })
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!(runner.lag().await.unwrap().events_behind, 0);
    assert_eq!(sink.document("order-2").unwrap()["customer"], "bob");
    assert_eq!(sink.document("order-9"), None);

    let raw = records(&brokers, &topic).await;
    assert_eq!(raw.len(), 1, "{raw:?}");
    let (key, value, headers) = &raw[0];
    assert_eq!(key.as_deref(), Some("order-9"));
    let value: serde_json::Value = serde_json::from_str(value.as_deref().unwrap()).unwrap();
    assert_eq!(value, bad.payload, "the payload as stored");
    assert_eq!(headers[PROJECTION], name);
    assert_eq!(headers[STAGE], "decode");
    assert_eq!(
        headers[POSITION], "0/2",
        "the event's position in the store"
    );
    assert!(headers[ERROR].contains("invalid type"), "{headers:?}");
    assert_eq!(headers["keel.event_type"], "OrderPlaced");
    assert_eq!(headers["keel.event_id"], bad.event_id.to_string());
    assert_eq!(headers["__connect.errors.connector.name"], name);

    // The destination reads it back as the letter it was.
    let destination = KafkaDeadLetters::build(KafkaDeadLetterConfig::new(&brokers, &topic))
        .await
        .unwrap();
    let listed = destination.list(&name).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event_id, bad.event_id);
    assert_eq!(listed[0].position, Position { commit: 0, seq: 2 });
    assert_eq!(
        headers[DEAD_LETTER_ID],
        dead_letter_id(&listed[0]).to_string()
    );

    // Replaying the range publishes the letter again; the destination still lists it once.
    store
        .save_checkpoint(runner.checkpoint_name(), Position::START)
        .await
        .unwrap();
    runner.catch_up().await.unwrap();
    assert_eq!(records(&brokers, &topic).await.len(), 2);
    assert_eq!(destination.list(&name).await.unwrap().len(), 1);
}
