//! One trace per saga, end to end on the real stack: Kafka between the coordinator and the
//! participants, PostgreSQL for saga state and inboxes, Jaeger for the spans. A saga whose
//! payment is refused compensates, and its trace holds the steps and the compensation in order,
//! with the participants' spans joined through the W3C headers of the Kafka records.
#![cfg(feature = "integration")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Executions, handler, order_saga, unique, wait_final};
use keel_core::Metadata;
use keel_core::testing::stack;
use keel_sagas::kafka::{KafkaSagaConfig, KafkaTransport, consume_replies, serve_participant};
use keel_sagas::store::PostgresSagaStore;
use keel_sagas::{Coordinator, CoordinatorConfig, Participant, SagaState};
use opentelemetry::trace::TraceContextExt;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

async fn create_topics(brokers: &str, topics: &[String]) {
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

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compensated_saga_over_kafka_is_one_trace_with_steps_and_compensation_in_order() {
    let otlp = stack::otlp().require().url;
    let query = stack::jaeger_query().require().url;
    let brokers = stack::kafka().require().url;
    let pg = stack::postgres().require().url;
    let service = unique("keel-saga-trace", '-');
    let telemetry = keel_core::telemetry::init_with_endpoint(&service, &otlp).expect("telemetry");

    let prefix = format!("{}.", unique("saga-cmd", '-'));
    let config = KafkaSagaConfig::new(&brokers, &prefix, unique("saga-replies", '-'));
    let mut topics: Vec<String> = ["inventory", "payment", "shipping"]
        .iter()
        .map(|p| config.command_topic(p))
        .collect();
    topics.push(config.reply_topic.clone());
    create_topics(&brokers, &topics).await;

    let store = PostgresSagaStore::connect(&pg).await.expect("postgres");
    let saga_type = unique("traced-order", '-');
    let saga_id = unique("o", '-');
    let exec = Executions::default();
    exec.fail("Capture");
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = Vec::new();
    for name in ["inventory", "payment", "shipping"] {
        let participant = Arc::new(Participant::new(name, handler(&exec), store.clone()));
        let (config, group, stop) = (config.clone(), unique(name, '-'), stopped());
        tasks.push(tokio::spawn(async move {
            serve_participant(participant, &config, &group, stop).await
        }));
    }
    let coordinator = Arc::new(
        Coordinator::new(
            store.clone(),
            KafkaTransport::new(config.clone()).expect("transport"),
        )
        .with_config(CoordinatorConfig::default().tick(Duration::from_millis(50)))
        .register(order_saga(&saga_type))
        .expect("saga"),
    );
    {
        let (coordinator, config, group, stop) = (
            Arc::clone(&coordinator),
            config.clone(),
            unique("coordinator", '-'),
            stopped(),
        );
        tasks.push(tokio::spawn(async move {
            consume_replies(coordinator, &config, &group, stop).await
        }));
    }

    let root = tracing::info_span!("test.order_placed");
    let trace_id = root.context().span().span_context().trace_id().to_string();
    async {
        let trigger = keel_core::telemetry::with_current_context(Metadata::default());
        coordinator
            .start_from(
                &saga_type,
                &saga_id,
                json!({ "total_cents": 4200 }),
                &trigger,
            )
            .await
            .expect("start");
    }
    .instrument(root)
    .await;

    let saga = tokio::time::timeout(
        Duration::from_secs(60),
        wait_final(&store, &saga_type, &saga_id),
    )
    .await
    .expect("the saga finishes within 60 s");
    assert_eq!(saga.state, SagaState::Compensated, "{saga:?}");
    assert_eq!(exec.max_per_command(), 1, "a command executed twice");
    assert_eq!(exec.count("Release", &saga_id), 1);
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.expect("join").expect("consumer");
    }
    telemetry.flush().expect("flush");

    let wanted = [
        ("keel.saga.step", "reserve"),
        ("keel.saga.step", "pay"),
        ("keel.saga.compensation", "reserve"),
    ];
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..40 {
        let body: Value = http
            .get(format!("{query}/api/traces/{trace_id}"))
            .send()
            .await
            .expect("jaeger query")
            .json()
            .await
            .expect("json");
        let mut spans: Vec<Value> = body["data"][0]["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        spans.sort_by_key(|s| s["startTime"].as_u64());
        seen = spans
            .iter()
            .filter_map(|s| {
                let name = s["operationName"].as_str()?;
                Some((
                    name.to_owned(),
                    tag(s, "step_name").unwrap_or("").to_owned(),
                ))
            })
            .collect();
        let steps: Vec<(&str, &str)> = seen
            .iter()
            .filter(|(n, _)| n.starts_with("keel.saga.step") || n == "keel.saga.compensation")
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .collect();
        let participants = seen
            .iter()
            .filter(|(n, _)| n == "keel.saga.participant")
            .count();
        let has_root = seen.iter().any(|(n, _)| n == "keel.saga");
        if steps == wanted && participants == 3 && has_root {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "trace {trace_id} has spans {seen:?}; wanted steps {wanted:?}, 3 participant spans and keel.saga"
    );
}
