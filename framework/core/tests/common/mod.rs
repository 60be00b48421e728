//! Shared by the Kafka test binaries: topics, producing and reading records, consumer
//! configurations, and a switch that ends a consumer's `run`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_core::kafka::ConsumerConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::oneshot;

/// A bound on every test, so that a hang fails instead of blocking CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker list; fails with "run make up" when Kafka does not answer.
pub fn require_kafka() -> String {
    keel_core::testing::stack::kafka().require().url
}

/// A fresh name for a topic or group: `keel-test-<prefix>-<uuid>`.
pub fn unique(prefix: &str) -> String {
    keel_core::testing::unique(&format!("keel-test-{prefix}"), '-')
}

/// Runs a test body with [`TEST_TIMEOUT`].
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("the test timed out")
}

pub async fn create_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    for result in admin
        .create_topics(&new, &AdminOptions::new())
        .await
        .expect("create topics")
    {
        result.expect("topic created");
    }
}

pub fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer")
}

pub async fn produce(producer: &FutureProducer, topic: &str, key: &str, payload: &str) {
    let headers = OwnedHeaders::new().insert(Header {
        key: "x-origin",
        value: Some("test"),
    });
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(headers);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("produced");
}

/// Reads `count` records of partition 0 of `topic` from the beginning.
pub async fn read_records(brokers: &str, topic: &str, count: usize) -> Vec<OwnedMessage> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&partitions).expect("assign");
    let mut records = Vec::with_capacity(count);
    while records.len() < count {
        records.push(consumer.recv().await.expect("record").detach());
    }
    records
}

/// How many records partition 0 of `topic` holds (its high watermark).
pub fn record_count(brokers: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    high
}

pub fn header_map(message: &OwnedMessage) -> HashMap<String, String> {
    let mut map = HashMap::new();
    if let Some(headers) = message.headers() {
        use rdkafka::message::Headers as _;
        for h in headers.iter() {
            let value = String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned();
            map.insert(h.key.to_owned(), value);
        }
    }
    map
}

pub fn consumer_config(brokers: &str, group: &str, topic: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(brokers, group, [topic]);
    config.backoff_initial_ms = 10;
    config.backoff_max_ms = 50;
    config
}

/// Fired (once) by a handler to end `run`.
pub type Switch = Arc<Mutex<Option<oneshot::Sender<()>>>>;

/// A handler-side switch that ends `run`.
pub fn shutdown_switch() -> (Switch, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    (Arc::new(Mutex::new(Some(tx))), rx)
}

pub fn fire(switch: &Mutex<Option<oneshot::Sender<()>>>) {
    if let Some(tx) = switch.lock().expect("switch lock").take() {
        let _ = tx.send(());
    }
}

/// The offset `group` committed for partition 0 of `topic`, if any (asked without joining the
/// group).
pub fn committed_offset(brokers: &str, group: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(partitions, Duration::from_secs(10))
        .expect("committed offsets");
    match committed
        .find_partition(topic, 0)
        .expect("partition 0")
        .offset()
    {
        Offset::Offset(offset) => Some(offset),
        _ => None,
    }
}
