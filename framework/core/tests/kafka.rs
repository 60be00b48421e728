//! The outbox relay against the real Kafka of the local stack (`make up`;
//! `KEEL_KAFKA_BROKERS`, default `127.0.0.1:9092`). The consumer helper's tests are in
//! `kafka_consumer.rs`.
#![cfg(feature = "integration")]

mod common;

use std::time::Duration;

use common::{
    bounded, create_topics, header_map, read_records, record_count, require_kafka, unique,
};
use keel_core::RecordedEvent;
use keel_core::event::{Metadata, NewEvent};
use keel_core::kafka::{OutboxRelay, RelayConfig, headers};
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, Outbox, StreamQuery};
use rdkafka::Message;
use tokio::sync::oneshot;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

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
