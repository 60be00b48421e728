//! The outbox relay and the consumer helper against the real Kafka of the local stack
//! (`make up`; `KEEL_KAFKA_BROKERS`, default `127.0.0.1:9092`).
#![cfg(feature = "integration")]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_core::RecordedEvent;
use keel_core::event::{Metadata, NewEvent};
use keel_core::kafka::{
    ConsumedMessage, ConsumerConfig, HandlerError, KafkaConsumer, OutboxRelay, RelayConfig, headers,
};
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, Outbox, StreamQuery};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot};

/// A bound on every test, so that a hang fails instead of blocking CI.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The broker list; fails with "run make up" when Kafka does not answer.
fn require_kafka() -> String {
    keel_core::testing::stack::kafka().require().url
}

fn unique(prefix: &str) -> String {
    format!("keel-test-{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Runs a test body with [`TEST_TIMEOUT`].
async fn bounded<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("the test timed out")
}

async fn create_topics(brokers: &str, topics: &[&str]) {
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

fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer")
}

async fn produce(producer: &FutureProducer, topic: &str, key: &str, payload: &str) {
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
async fn read_records(brokers: &str, topic: &str, count: usize) -> Vec<OwnedMessage> {
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
fn record_count(brokers: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    high
}

fn header_map(message: &OwnedMessage) -> HashMap<String, String> {
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

fn new_event(event_type: &str, n: u32, metadata: Metadata) -> NewEvent {
    NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: event_type.to_owned(),
        schema_version: 1,
        payload: serde_json::json!({ "n": n }),
        metadata,
        occurred_at: chrono::Utc::now(),
    }
}

fn consumer_config(brokers: &str, group: &str, topic: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(brokers, group, [topic]);
    config.backoff_initial_ms = 10;
    config.backoff_max_ms = 50;
    config
}

/// Fired (once) by a handler to end `run`.
type Switch = Arc<Mutex<Option<oneshot::Sender<()>>>>;

/// A handler-side switch that ends `run`.
fn shutdown_switch() -> (Switch, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    (Arc::new(Mutex::new(Some(tx))), rx)
}

fn fire(switch: &Mutex<Option<oneshot::Sender<()>>>) {
    if let Some(tx) = switch.lock().expect("switch lock").take() {
        let _ = tx.send(());
    }
}

// ---------------------------------------------------------------------------------------------
// Outbox relay
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn relay_publishes_appended_events_in_order_with_key_and_headers() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("relay");
        create_topics(&brokers, &[&topic]).await;
        let store = MemoryStore::new();
        store
            .append(
                "order-1",
                ExpectedVersion::NoStream,
                vec![
                    new_event("OrderPlaced", 1, Metadata::default()),
                    new_event("ItemAdded", 2, Metadata::default()),
                ],
            )
            .await
            .unwrap();
        store
            .append(
                "order-2",
                ExpectedVersion::NoStream,
                vec![new_event("OrderPlaced", 3, Metadata::default())],
            )
            .await
            .unwrap();
        store
            .append(
                "order-1",
                ExpectedVersion::Exact(2),
                vec![new_event("OrderPaid", 4, Metadata::default())],
            )
            .await
            .unwrap();
        let mut expected: Vec<RecordedEvent> = store
            .read_all(keel_core::Position::START, 100)
            .await
            .unwrap();
        expected.sort_by_key(|e| e.position);

        let mut config = RelayConfig::new(&brokers, &topic);
        config.batch_size = 3;
        let relay = OutboxRelay::new(store.clone(), config).unwrap();
        assert_eq!(relay.publish_batch().await.unwrap(), 3);
        assert_eq!(relay.publish_batch().await.unwrap(), 1);
        assert_eq!(relay.publish_batch().await.unwrap(), 0);
        assert!(
            store.pending(100).await.unwrap().is_empty(),
            "the outbox is drained"
        );

        let records = read_records(&brokers, &topic, 4).await;
        for (record, event) in records.iter().zip(&expected) {
            assert_eq!(
                record.key(),
                Some(event.stream_id.as_bytes()),
                "key = stream id"
            );
            let published: RecordedEvent =
                serde_json::from_slice(record.payload().unwrap()).unwrap();
            assert_eq!(&published, event, "value = the whole envelope");
            let h = header_map(record);
            assert_eq!(h[headers::EVENT_ID], event.event_id.to_string());
            assert_eq!(h[headers::EVENT_TYPE], event.event_type);
            assert_eq!(h[headers::SCHEMA_VERSION], "1");
            assert_eq!(h[headers::STREAM_ID], event.stream_id);
            assert_eq!(h[headers::STREAM_VERSION], event.stream_version.to_string());
            assert!(
                !h.contains_key(headers::TRACEPARENT),
                "no trace context in the metadata"
            );
        }
        let order: Vec<_> = records
            .iter()
            .map(|r| header_map(r)[headers::EVENT_ID].clone())
            .collect();
        let appended: Vec<_> = expected.iter().map(|e| e.event_id.to_string()).collect();
        assert_eq!(order, appended, "published in outbox order");
    })
    .await;
}

#[tokio::test]
async fn relay_run_carries_the_traceparent_and_wakes_on_new_events() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("relay-trace");
        let routed = format!("{topic}.payments");
        create_topics(&brokers, &[&topic, &routed]).await;
        let store = MemoryStore::new();
        let traced = Metadata {
            traceparent: Some(TRACEPARENT.into()),
            tracestate: Some("keel=1".into()),
            ..Metadata::default()
        };
        store
            .append(
                "order-9",
                ExpectedVersion::Any,
                vec![new_event("OrderPlaced", 1, traced)],
            )
            .await
            .unwrap();

        let mut config = RelayConfig::new(&brokers, &topic);
        config.poll_interval_ms = 60_000; // only the store's notification can wake it in time
        let routed_for_router = routed.clone();
        let topic_for_router = topic.clone();
        let relay = OutboxRelay::new(store.clone(), config)
            .unwrap()
            .with_router(move |event| {
                if event.event_type == "PaymentTaken" {
                    routed_for_router.clone()
                } else {
                    topic_for_router.clone()
                }
            });
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(async move { relay.run(stopped).await });

        let first = read_records(&brokers, &topic, 1).await;
        let h = header_map(&first[0]);
        assert_eq!(h[headers::TRACEPARENT], TRACEPARENT);
        assert_eq!(h["tracestate"], "keel=1");

        // Appended while the relay idles: the store's notification wakes it, the router picks
        // the topic.
        store
            .append(
                "order-9",
                ExpectedVersion::Exact(1),
                vec![new_event("PaymentTaken", 2, Metadata::default())],
            )
            .await
            .unwrap();
        let second = read_records(&brokers, &routed, 1).await;
        assert_eq!(header_map(&second[0])[headers::EVENT_TYPE], "PaymentTaken");
        while !store.pending(10).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert_eq!(record_count(&brokers, &topic), 1);
        assert_eq!(
            store
                .read_stream("order-9", StreamQuery::all())
                .await
                .unwrap()
                .len(),
            2
        );
    })
    .await;
}

#[tokio::test]
async fn relay_marks_only_the_acknowledged_prefix_when_a_send_fails() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("relay-prefix");
        create_topics(&brokers, &[&topic]).await;
        let store = MemoryStore::new();
        let events = (1..=3)
            .map(|n| new_event(&format!("E{n}"), n, Metadata::default()))
            .collect();
        store
            .append("s", ExpectedVersion::NoStream, events)
            .await
            .unwrap();

        // E2 goes to a topic the broker refuses (an invalid name); E1 and E3 are acked.
        let mut config = RelayConfig::new(&brokers, &topic);
        config
            .properties
            .insert("message.timeout.ms".into(), "5000".into());
        let relay = OutboxRelay::new(store.clone(), config)
            .unwrap()
            .with_router({
                let topic = topic.clone();
                move |event| {
                    if event.event_type == "E2" {
                        "not a valid topic!".into()
                    } else {
                        topic.clone()
                    }
                }
            });
        relay.publish_batch().await.unwrap_err();
        let pending: Vec<_> = store
            .pending(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.event_type)
            .collect();
        assert_eq!(
            pending,
            ["E2", "E3"],
            "E1 marked; E2 failed; E3 acked but after the failure"
        );
        assert_eq!(
            record_count(&brokers, &topic),
            2,
            "E1 and E3 reached the broker"
        );
    })
    .await;
}

#[tokio::test]
async fn relay_keeps_entries_pending_when_no_broker_acknowledges() {
    // No broker listens on port 1: nothing may be marked published.
    let store = MemoryStore::new();
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![new_event("E", 1, Metadata::default())],
        )
        .await
        .unwrap();
    let mut config = RelayConfig::new("127.0.0.1:1", "nowhere");
    config
        .properties
        .insert("message.timeout.ms".into(), "1000".into());
    let relay = OutboxRelay::new(store.clone(), config).unwrap();
    let error = bounded(relay.publish_batch()).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(store.pending(10).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Consumer helper
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_permanent_failure_goes_to_the_dead_letter_topic_and_the_next_message_is_handled() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("dlq");
        let dlq = format!("{topic}.dlq");
        create_topics(&brokers, &[&topic, &dlq]).await;
        let producer = producer(&brokers);
        produce(&producer, &topic, "k-bad", "poison").await;
        produce(&producer, &topic, "k-good", "fine").await;

        let (handled_tx, mut handled) = mpsc::unbounded_channel::<String>();
        let handler = move |m: ConsumedMessage| {
            let handled_tx = handled_tx.clone();
            async move {
                match m.payload_str() {
                    Some("poison") => Err(HandlerError::permanent("cannot parse `poison`")),
                    other => {
                        handled_tx
                            .send(other.unwrap_or_default().to_owned())
                            .unwrap();
                        Ok(())
                    }
                }
            }
        };
        let consumer =
            KafkaConsumer::new(consumer_config(&brokers, &unique("group"), &topic)).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(consumer.run(handler, stopped));

        assert_eq!(
            handled.recv().await.unwrap(),
            "fine",
            "the next message is still handled"
        );
        stop.send(()).unwrap();
        running.await.unwrap().unwrap();

        let letters = read_records(&brokers, &dlq, 1).await;
        let letter = &letters[0];
        assert_eq!(letter.key(), Some(&b"k-bad"[..]));
        assert_eq!(letter.payload(), Some(&b"poison"[..]));
        let h = header_map(letter);
        assert_eq!(h[headers::ERROR], "cannot parse `poison`");
        assert_eq!(h[headers::ERROR_ATTEMPTS], "1");
        assert_eq!(h[headers::ORIGINAL_TOPIC], topic);
        assert_eq!(h[headers::ORIGINAL_PARTITION], "0");
        assert_eq!(h[headers::ORIGINAL_OFFSET], "0");
        assert_eq!(h["x-origin"], "test", "the original headers are kept");
        assert_eq!(record_count(&brokers, &dlq), 1);
    })
    .await;
}

#[tokio::test]
async fn a_retryable_failure_that_clears_on_the_third_attempt_is_handled_once_without_dead_letter()
{
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("retry");
        let dlq = format!("{topic}.dlq");
        create_topics(&brokers, &[&topic, &dlq]).await;
        produce(&producer(&brokers), &topic, "k", "flaky").await;

        let attempts = Arc::new(AtomicU32::new(0));
        let successes = Arc::new(AtomicU32::new(0));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (attempts, successes, stop) = (attempts.clone(), successes.clone(), stop.clone());
            move |_: ConsumedMessage| {
                let (attempts, successes, stop) =
                    (attempts.clone(), successes.clone(), stop.clone());
                async move {
                    if attempts.fetch_add(1, Ordering::SeqCst) + 1 < 3 {
                        return Err(HandlerError::retryable("database busy"));
                    }
                    successes.fetch_add(1, Ordering::SeqCst);
                    fire(&stop);
                    Ok(())
                }
            }
        };
        let consumer =
            KafkaConsumer::new(consumer_config(&brokers, &unique("group"), &topic)).unwrap();
        consumer.run(handler, stopped).await.unwrap();

        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert_eq!(successes.load(Ordering::SeqCst), 1);
        assert_eq!(record_count(&brokers, &dlq), 0, "no dead letter");
    })
    .await;
}

#[tokio::test]
async fn offsets_are_committed_only_after_handling_so_a_new_member_resumes_after_the_last_handled()
{
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("commit");
        create_topics(&brokers, &[&topic]).await;
        let producer = producer(&brokers);
        for n in 1..=6 {
            produce(&producer, &topic, "k", &format!("m{n}")).await;
        }
        let group = unique("group");

        // The first member handles m1..m3; m4 fails (retryable) and the member stops during
        // the backoff, so m4 was never handled and must not be committed.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (seen, stop) = (seen.clone(), stop.clone());
            move |m: ConsumedMessage| {
                let (seen, stop) = (seen.clone(), stop.clone());
                async move {
                    let payload = m.payload_str().unwrap_or_default().to_owned();
                    if payload == "m4" {
                        fire(&stop);
                        return Err(HandlerError::retryable("not now"));
                    }
                    seen.lock().unwrap().push(payload);
                    Ok(())
                }
            }
        };
        KafkaConsumer::new(consumer_config(&brokers, &group, &topic))
            .unwrap()
            .run(handler, stopped)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), ["m1", "m2", "m3"]);

        // A new member of the same group starts at m4: after the last handled message.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (seen, stop) = (seen.clone(), stop.clone());
            move |m: ConsumedMessage| {
                let (seen, stop) = (seen.clone(), stop.clone());
                async move {
                    let payload = m.payload_str().unwrap_or_default().to_owned();
                    if payload == "m6" {
                        fire(&stop);
                    }
                    seen.lock().unwrap().push(payload);
                    Ok::<(), HandlerError>(())
                }
            }
        };
        KafkaConsumer::new(consumer_config(&brokers, &group, &topic))
            .unwrap()
            .run(handler, stopped)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), ["m4", "m5", "m6"]);
    })
    .await;
}
