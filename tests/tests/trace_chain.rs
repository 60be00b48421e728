//! One trace across the hops of the core: a command executed under a span, the event it
//! appended (carrying the trace context in its metadata), the outbox relay's publish to Kafka
//! (carrying it in headers) and a consumer's handling all show up in Jaeger as one trace.
#![cfg(feature = "integration")]

use std::time::Duration;

use keel_core::kafka::{
    ConsumedMessage, ConsumerConfig, HandlerError, KafkaConsumer, OutboxRelay, RelayConfig,
};
use keel_core::store::MemoryStore;
use keel_core::testing::conformance::{Ledger, LedgerCommand};
use keel_core::testing::{stack, unique};
use keel_core::{Metadata, Repository};
use opentelemetry::trace::TraceContextExt;
use serde_json::Value;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::test(flavor = "multi_thread")]
async fn command_event_publish_and_handling_are_one_trace_in_jaeger() {
    let otlp = stack::otlp().require().url;
    let query = stack::jaeger_query().require().url;
    let brokers = stack::kafka().require().url;
    let service = unique("keel-trace-chain", '-');
    let topic = unique("trace-chain", '-');
    let telemetry = keel_core::telemetry::init_with_endpoint(&service, &otlp).expect("telemetry");

    let store = MemoryStore::new();
    let repo = Repository::<Ledger, _>::new(store.clone());
    let root = tracing::info_span!("test.deposit");
    let trace_id = root.context().span().span_context().trace_id().to_string();
    let executed = repo
        .execute(
            "ledger-trace",
            LedgerCommand::Deposit(5),
            Metadata::default(),
        )
        .instrument(root)
        .await
        .expect("execute");
    let traceparent = executed.events[0]
        .metadata
        .traceparent
        .clone()
        .expect("the event carries a traceparent");
    assert!(
        traceparent.contains(&trace_id),
        "{traceparent} is in trace {trace_id}"
    );

    let relay = OutboxRelay::new(store.clone(), RelayConfig::new(&brokers, &topic)).expect("relay");
    assert_eq!(relay.publish_batch().await.expect("publish"), 1);

    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<String>();
    let seen_tx = std::sync::Mutex::new(Some(seen_tx));
    let handler = move |message: ConsumedMessage| {
        let sender = seen_tx.lock().expect("lock").take();
        async move {
            let event = message.event()?;
            tracing::info_span!("test.project", event_id = %event.event_id).in_scope(|| {
                tracing::info!("projected");
            });
            if let Some(sender) = sender {
                let _ = sender.send(event.event_type);
            }
            Ok::<(), HandlerError>(())
        }
    };
    let consumer = KafkaConsumer::new(ConsumerConfig::new(
        &brokers,
        unique("trace-group", '-'),
        [topic.clone()],
    ))
    .expect("consumer");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(handler, async move {
        let _ = stop_rx.await;
    }));
    let handled = tokio::time::timeout(Duration::from_secs(30), seen_rx)
        .await
        .expect("handled within 30 s");
    assert_eq!(handled.expect("sent"), "Deposited");
    let _ = stop_tx.send(());
    running.await.expect("join").expect("consumer");
    telemetry.flush().expect("flush");

    let wanted = [
        "test.deposit",
        "keel.execute",
        "keel.append",
        "keel.publish.event",
        "keel.handle",
        "test.project",
    ];
    let http = reqwest::Client::new();
    let mut names: Vec<String> = Vec::new();
    for _ in 0..40 {
        let body: Value = http
            .get(format!("{query}/api/traces/{trace_id}"))
            .send()
            .await
            .expect("jaeger query")
            .json()
            .await
            .expect("json");
        names = body["data"][0]["spans"]
            .as_array()
            .map(|spans| {
                spans
                    .iter()
                    .filter_map(|s| s["operationName"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if wanted.iter().all(|w| names.iter().any(|n| n == w)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("trace {trace_id} in Jaeger has spans {names:?}, wanted all of {wanted:?}");
}
