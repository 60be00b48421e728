use std::time::Duration;

use keel::testing::stack;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

/// A span exported over OTLP gRPC is found through Jaeger's query API under its service.
#[tokio::test(flavor = "multi_thread")]
async fn span_exported_over_otlp_is_found_in_jaeger() {
    let endpoint = stack::otlp().require().url;
    let query = stack::jaeger_query().require().url;
    let service = crate::unique("keel-smoke", '_');
    let operation = crate::unique("smoke-op", '_');

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("keel-tests");
    let mut span = tracer.start(operation.clone());
    span.set_attribute(KeyValue::new("keel.smoke", true));
    span.end();
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();

    let http = reqwest::Client::new();
    let url = format!("{query}/api/traces?service={service}&limit=5");
    let mut last = Value::Null;
    for _ in 0..30 {
        last = http.get(&url).send().await.unwrap().json().await.unwrap();
        let found = last["data"].as_array().into_iter().flatten().any(|trace| {
            trace["spans"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["operationName"] == operation.as_str())
        });
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("span {operation} of service {service} not found in Jaeger: {last}");
}
