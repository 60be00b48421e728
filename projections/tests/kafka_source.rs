//! A Kafka topic of domain events as a projection's source, and its lag, against the real Kafka of `make up`.

#![cfg(feature = "integration")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use keel_core::kafka::{ConsumerConfig, OutboxRelay, RelayConfig};
use keel_core::store::{EventStore, MemoryStore};
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
    let topic = unique("keel-test-projection-source", '-');
    let group = unique("keel-test-projection-group", '-');
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
    let name = unique("orders", '-');
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_counts_records_past_the_groups_commits_and_the_age_of_the_oldest() {
    let brokers = stack::kafka().require().url;
    let topic = unique("keel-test-projection-lag", '-');
    let group = unique("keel-test-projection-group", '-');
    create_topic(&brokers, &topic).await;
    let store = MemoryStore::new();
    for i in 0..6 {
        append(&store, &format!("o-{i}"), &[placed("ada", i)]).await;
    }
    append(&store, "o-late", &[placed("bob", 1)]).await;
    let events = store
        .read_all(keel_core::Position::START, 100)
        .await
        .unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    // Records as the relay publishes them, stamped a minute ago (the last one five seconds ago,
    // sent later).
    let send = |event: &keel_core::RecordedEvent, age_ms: i64| {
        let value = serde_json::to_vec(event).unwrap();
        let key = event.stream_id.clone();
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            producer
                .send(
                    FutureRecord::to(&topic)
                        .key(&key)
                        .payload(&value)
                        .timestamp(chrono::Utc::now().timestamp_millis() - age_ms),
                    Duration::from_secs(10),
                )
                .await
                .expect("record sent");
        }
    };
    for event in &events[..6] {
        send(event, 60_000).await;
    }

    let sink = MemorySink::new();
    let runner = Arc::new(
        KafkaProjectionRunner::new(
            ConsumerConfig::new(&brokers, &group, [&topic]),
            Orders(unique("orders", '-')),
        )
        .unwrap()
        .with_sink(sink.clone())
        .with_dead_letters(MemoryDeadLetters::new())
        .with_config(config())
        .unwrap(),
    );
    let lag = runner.lag().await.unwrap();
    assert_eq!(lag.events_behind, 6, "{lag:?}");
    assert!(
        (60_000..600_000).contains(&lag.ms_behind),
        "the oldest record is a minute old: {lag:?}"
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });
    eventually(30, "the group caught up", || async {
        runner.lag().await.unwrap() == keel_projections::Lag::default()
    })
    .await;
    assert_eq!(sink.documents().len(), 6);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    send(&events[6], 5_000).await;
    let lag = runner.lag().await.unwrap();
    assert_eq!(lag.events_behind, 1, "{lag:?}");
    assert!(
        (5_000..60_000).contains(&lag.ms_behind),
        "only the new record is behind: {lag:?}"
    );
}
