//! Spans of a saga: a root per instance, a child per step attempt and per compensation, all
//! in the trace of the event that started the saga; the context travels in W3C headers.

use std::collections::HashMap;

use keel_core::Metadata;

/// Makes `span` a child of the context carried by W3C `headers`, when they carry one.
pub(crate) fn set_parent(span: &tracing::Span, headers: &HashMap<String, String>) {
    if let Some(traceparent) = headers.get("traceparent") {
        let metadata = Metadata {
            traceparent: Some(traceparent.clone()),
            tracestate: headers.get("tracestate").cloned(),
            ..Metadata::default()
        };
        keel_core::telemetry::set_parent_from_metadata(span, &metadata);
    }
}

/// The W3C headers of `span`'s context.
pub(crate) fn headers_of(span: &tracing::Span) -> HashMap<String, String> {
    span.in_scope(keel_core::telemetry::current_headers)
}
