//! A Kafka topic of domain events as a projection's source, against the real Kafka of `make up`.

#![cfg(feature = "integration")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use keel_core::kafka::{ConsumerConfig, OutboxRelay, RelayConfig};
use keel_core::store::MemoryStore;
use keel_core::testing::stack;
use keel_projections::dead_letter::{DeadLetterStage, MemoryDeadLetters};
use keel_projections::kafka::KafkaProjectionRunner;
use keel_projections::sinks::MemorySink;
use keel_projections::{ErrorTolerance, RunnerConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 2;

async fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new = [NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))];
    for result in admin
        .create_topics(&new, &AdminOptions::new())
        .await
        .expect("create topic")
    {
        result.expect("topic created");
    }
}

/// Publishes the store's outbox with keel-core's relay, as an application does.
async fn publish(store: &MemoryStore, brokers: &str, topic: &str) {
    let relay = OutboxRelay::new(store.clone(), RelayConfig::new(brokers, topic)).expect("relay");
    while relay.publish_batch().await.expect("published") > 0 {}
}

/// Per partition: (committed offset of `group`, end offset).
async fn offsets(brokers: &str, group: &str, topic: &str) -> Vec<(Offset, i64)> {
    let (brokers, group, topic) = (brokers.to_owned(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", &group)
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            list.add_partition(&topic, p);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        (0..PARTITIONS)
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .expect("watermarks");
                let offset = committed
                    .find_partition(&topic, p)
                    .map_or(Offset::Invalid, |e| e.offset());
                (offset, high)
            })
            .collect()
    })
    .await
    .expect("offsets task")
}

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 5,
        flush_timeout_ms: 20,
        retry_backoff_ms: 20,
        max_retry_backoff_ms: 100,
        poll_interval_ms: 100,
        errors_tolerance: ErrorTolerance::All,
        ..RunnerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_of_domain_events_is_projected_and_offsets_are_committed_only_after_the_sinks_acknowledged()
 {
    let brokers = stack::kafka().require().url;
    let topic = unique("keel-test-projection-source");
    let group = unique("keel-test-projection-group");
    create_topic(&brokers, &topic).await;
    let store = MemoryStore::new();
    for i in 0..10 {
        append(&store, &format!("o-{i}"), &[placed("ada", i)]).await;
    }
    for i in 0..3 {
        append(&store, &format!("o-{i}"), &[cancelled("late")]).await;
    }
    publish(&store, &brokers, &topic).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(&topic)
                .key("o-x")
                .payload("not an event")
                .partition(0),
            Duration::from_secs(10),
        )
        .await
        .expect("poison record sent");

    let sink = MemorySink::new();
    sink.set_down(true);
    let letters = MemoryDeadLetters::new();
    let name = unique("orders");
    let runner = Arc::new(
        KafkaProjectionRunner::new(
            ConsumerConfig::new(&brokers, &group, [&topic]),
            Orders(name.clone()),
        )
        .unwrap()
        .with_sink(sink.clone())
        .with_dead_letters(letters.clone())
        .with_config(config())
        .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });

    eventually(
        30,
        "the runner retrying a batch while the sink is down",
        || async { sink.refused_calls() >= 3 },
    )
    .await;
    let held = offsets(&brokers, &group, &topic).await;
    assert!(
        held.iter()
            .all(|(committed, _)| *committed == Offset::Invalid),
        "offsets committed while the sink was down: {held:?}"
    );

    sink.set_down(false);
    eventually(30, "every record projected and committed", || async {
        offsets(&brokers, &group, &topic)
            .await
            .iter()
            .all(|(committed, end)| *committed == Offset::Offset(*end))
    })
    .await;
    for i in 0..10 {
        let doc = sink
            .document(&format!("o-{i}"))
            .unwrap_or_else(|| panic!("o-{i} missing"));
        assert_eq!(
            doc["status"],
            if i < 3 { "cancelled" } else { "placed" },
            "o-{i}"
        );
    }
    let dead = letters.all();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        matches!(&dead[0].stage, DeadLetterStage::Source { origin } if origin.starts_with(&format!("{topic}/0/"))),
        "{dead:?}"
    );
    assert_eq!(dead[0].payload, serde_json::json!("not an event"));
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // A new member of the group goes on from the commits: it sees only what came after.
    append(&store, "o-new", &[placed("bob", 1)]).await;
    publish(&store, &brokers, &topic).await;
    let next_sink = MemorySink::new();
    let next = Arc::new(
        KafkaProjectionRunner::new(
            ConsumerConfig::new(&brokers, &group, [&topic]),
            Orders(name),
        )
        .unwrap()
        .with_sink(next_sink.clone())
        .with_dead_letters(letters.clone())
        .with_config(config())
        .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = next.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });
    eventually(30, "the new event projected", || async {
        next_sink.document("o-new").is_some()
    })
    .await;
    assert_eq!(
        next_sink.documents().len(),
        1,
        "records before the commit were delivered again"
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
