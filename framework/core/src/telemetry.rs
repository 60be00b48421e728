//! Tracing glue: one call sets up OTLP export, and the W3C trace context travels in event
//! metadata and Kafka headers, so a chain of events across processes is one trace.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfig, BatchConfigBuilder, BatchSpanProcessor, OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY, SdkTracerProvider,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::event::Metadata;
use crate::{Error, Result};

/// The OTLP endpoint used when neither the config nor `OTEL_EXPORTER_OTLP_ENDPOINT` names one.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4317";

/// Keeps the exporter alive; flushes and shuts it down when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Exports every span finished so far.
    pub fn flush(&self) -> Result<()> {
        self.provider
            .force_flush()
            .map_err(|e| Error::Telemetry(e.to_string()))
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Sets up tracing for a process: `tracing` spans and logs (filtered by `RUST_LOG`, default
/// `info`) printed to stderr and exported over OTLP gRPC as service `service_name`, to
/// `OTEL_EXPORTER_OTLP_ENDPOINT` or [`DEFAULT_OTLP_ENDPOINT`]. Installs the W3C trace-context
/// propagator. Call once, inside a Tokio runtime; keep the guard until the process ends.
pub fn init(service_name: &str) -> Result<TelemetryGuard> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| DEFAULT_OTLP_ENDPOINT.to_owned());
    init_with_endpoint(service_name, &endpoint)
}

/// [`init`] with an explicit OTLP gRPC endpoint.
pub fn init_with_endpoint(service_name: &str, endpoint: &str) -> Result<TelemetryGuard> {
    let provider = tracer_provider(service_name, endpoint)?;
    let tracer = provider.tracer("keel");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|e| Error::Telemetry(format!("a global subscriber is already set: {e}")))?;
    Ok(TelemetryGuard { provider })
}

/// A tracer provider exporting over OTLP gRPC to `endpoint` as `service_name`, for callers
/// that compose their own subscriber.
pub fn tracer_provider(service_name: &str, endpoint: &str) -> Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| Error::Telemetry(format!("OTLP exporter for {endpoint}: {e}")))?;
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch_config())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

/// Spans queued for export at most, unless `OTEL_BSP_MAX_QUEUE_SIZE` says otherwise. The SDK's
/// 2,048 drops spans as soon as a busy process ends spans faster than one export at a time
/// takes them (the e-commerce example's saga role at 200 orders/s dropped 16,811 and left
/// sagas without their compensation spans); a span is a few hundred bytes.
pub const EXPORT_QUEUE: usize = 65_536;

/// How long a finished span waits for its batch to fill before it is exported anyway, unless
/// `OTEL_BSP_SCHEDULE_DELAY` says otherwise: a quiet process's traces reach Jaeger within a
/// second, not the SDK's five.
pub const EXPORT_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// The batch exporter's settings: the SDK's (which read the `OTEL_BSP_*` variables), with
/// [`EXPORT_QUEUE`] and [`EXPORT_DELAY`] where the environment sets nothing.
fn batch_config() -> BatchConfig {
    let mut config = BatchConfigBuilder::default();
    if std::env::var_os(OTEL_BSP_MAX_QUEUE_SIZE).is_none() {
        config = config.with_max_queue_size(EXPORT_QUEUE);
    }
    if std::env::var_os(OTEL_BSP_SCHEDULE_DELAY).is_none() {
        config = config.with_scheduled_delay(EXPORT_DELAY);
    }
    config.build()
}

/// The W3C headers (`traceparent`, `tracestate`) of the current `tracing` span's context.
pub fn current_headers() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut MapInjector(&mut headers));
    headers
}

/// Fills `traceparent`/`tracestate` from the current span unless the metadata has them.
pub fn with_current_context(mut metadata: Metadata) -> Metadata {
    if metadata.traceparent.is_none() {
        let mut headers = current_headers();
        metadata.traceparent = headers.remove("traceparent");
        metadata.tracestate = headers.remove("tracestate");
    }
    metadata
}

/// The OpenTelemetry context carried by an event's metadata (empty when it has none).
pub fn context_from_metadata(metadata: &Metadata) -> opentelemetry::Context {
    let mut headers = HashMap::new();
    if let Some(tp) = &metadata.traceparent {
        headers.insert("traceparent".to_owned(), tp.clone());
    }
    if let Some(ts) = &metadata.tracestate {
        headers.insert("tracestate".to_owned(), ts.clone());
    }
    context_from_headers(&headers)
}

/// The OpenTelemetry context carried by W3C headers (empty when there are none).
pub fn context_from_headers(headers: &HashMap<String, String>) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&MapExtractor(headers))
}

/// Makes `span` a child of the context carried by `metadata`, when it carries one.
pub fn set_parent_from_metadata(span: &tracing::Span, metadata: &Metadata) {
    if metadata.traceparent.is_some() {
        let _ = span.set_parent(context_from_metadata(metadata));
    }
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_carries_a_traceparent_back_into_a_context() {
        use opentelemetry::trace::TraceContextExt;
        let metadata = Metadata {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..Metadata::default()
        };
        let context = context_from_metadata(&metadata);
        let span = context.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
    }

    #[test]
    fn no_current_span_leaves_metadata_without_trace_context() {
        let metadata = with_current_context(Metadata::default());
        assert_eq!(metadata.traceparent, None);
    }
}
