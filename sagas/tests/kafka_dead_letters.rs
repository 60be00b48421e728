//! Bad input on the reply topic: an undecodable record goes to `<reply topic>.dlq` with its
//! reason, a reply for an unknown saga to the saga dead-letter table; the consumer goes on.
#![cfg(feature = "integration")]

use std::sync::Arc;
use std::time::Duration;

use keel_core::testing::{stack, unique};
use keel_sagas::kafka::{KafkaSagaConfig, KafkaTransport, consume_replies};
use keel_sagas::message::command_id;
use keel_sagas::store::{PostgresSagaStore, SagaStore};
use keel_sagas::{CommandKind, Coordinator, Reply, ReplyOutcome};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message};

#[tokio::test(flavor = "multi_thread")]
async fn bad_replies_are_dead_lettered_and_the_consumer_goes_on() {
    let brokers = stack::kafka().require().url;
    let pg = stack::postgres().require().url;
    let config = KafkaSagaConfig::new(&brokers, unique("cmd.", '-'), unique("replies", '-'));
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    let ghost_id = unique("ghost", '-');
    let ghost = Reply {
        command_id: command_id("nothing", &ghost_id, 0, 1, CommandKind::Action),
        saga_type: "nothing".into(),
        saga_id: ghost_id.clone(),
        step: 0,
        attempt: 1,
        kind: CommandKind::Action,
        outcome: ReplyOutcome::success(),
    };
    let ghost_json = serde_json::to_vec(&ghost).expect("json");
    for payload in [b"{not json".as_slice(), ghost_json.as_slice()] {
        producer
            .send(
                FutureRecord::to(&config.reply_topic)
                    .key("k")
                    .payload(payload),
                Duration::from_secs(5),
            )
            .await
            .expect("produced");
    }

    let store = PostgresSagaStore::connect(&pg).await.expect("postgres");
    let coordinator = Arc::new(Coordinator::new(
        store.clone(),
        KafkaTransport::new(config.clone()).expect("transport"),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let (coordinator, config) = (Arc::clone(&coordinator), config.clone());
        tokio::spawn(async move {
            consume_replies(coordinator, &config, &unique("group", '-'), stop_rx).await
        })
    };

    let dlq: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", unique("dlq-reader", '-'))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let dlq_topic = format!("{}.dlq", config.reply_topic);
    let mut letters = Vec::new();
    for _ in 0..60 {
        letters = store.dead_letters(&ghost_id).await.expect("dead letters");
        if !letters.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(letters.len(), 1, "the unknown saga's reply is in the table");
    assert_eq!(letters[0].reason, "unknown saga type");
    assert_eq!(letters[0].reply, ghost);

    dlq.subscribe(&[&dlq_topic]).expect("subscribe");
    let record = tokio::time::timeout(Duration::from_secs(30), dlq.recv())
        .await
        .expect("a dead letter within 30 s")
        .expect("record");
    assert_eq!(record.payload(), Some(b"{not json".as_slice()));
    let error = record
        .headers()
        .and_then(|h| h.iter().find(|h| h.key == "keel.error"))
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("keel.error header");
    assert!(error.contains("a reply does not decode"), "{error}");

    let _ = stop_tx.send(());
    running.await.expect("join").expect("consumer");
}
