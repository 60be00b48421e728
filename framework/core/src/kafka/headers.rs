//! The Kafka header names Keel writes: on every published event, and on every dead letter.

use std::collections::HashMap;

use rdkafka::message::{Header, Headers, OwnedHeaders};

use crate::event::RecordedEvent;

/// The event's id (a UUID); consumers deduplicate by it.
pub const EVENT_ID: &str = "keel.event_id";
/// The event's stable type name.
pub const EVENT_TYPE: &str = "keel.event_type";
/// The payload's schema version as stored.
pub const SCHEMA_VERSION: &str = "keel.schema_version";
/// The stream (entity) the event belongs to; also the record key.
pub const STREAM_ID: &str = "keel.stream_id";
/// The event's version within its stream.
pub const STREAM_VERSION: &str = "keel.stream_version";
/// The W3C trace context of the span that recorded the event.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C trace state, when there is one.
pub const TRACESTATE: &str = "tracestate";

/// On a dead letter: why the message was given up on.
pub const ERROR: &str = "keel.error";
/// On a dead letter: how many times the handler ran.
pub const ERROR_ATTEMPTS: &str = "keel.error.attempts";
/// On a dead letter: the topic the message was read from.
pub const ORIGINAL_TOPIC: &str = "keel.original.topic";
/// On a dead letter: the partition the message was read from.
pub const ORIGINAL_PARTITION: &str = "keel.original.partition";
/// On a dead letter: the message's offset in its partition.
pub const ORIGINAL_OFFSET: &str = "keel.original.offset";

/// The headers of a published event, trace context included when the metadata has one.
pub(crate) fn for_event(event: &RecordedEvent) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(7)
        .insert(text(EVENT_ID, &event.event_id.to_string()))
        .insert(text(EVENT_TYPE, &event.event_type))
        .insert(text(SCHEMA_VERSION, &event.schema_version.to_string()))
        .insert(text(STREAM_ID, &event.stream_id))
        .insert(text(STREAM_VERSION, &event.stream_version.to_string()));
    if let Some(traceparent) = &event.metadata.traceparent {
        headers = headers.insert(text(TRACEPARENT, traceparent));
    }
    if let Some(tracestate) = &event.metadata.tracestate {
        headers = headers.insert(text(TRACESTATE, tracestate));
    }
    headers
}

/// A header with a UTF-8 value.
pub(crate) fn text<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// Headers as a map: values decoded as UTF-8 (lossily), a header without a value as `""`; of
/// repeated keys the last wins.
pub(crate) fn to_map(headers: Option<&impl Headers>) -> HashMap<String, String> {
    let Some(headers) = headers else {
        return HashMap::new();
    };
    headers
        .iter()
        .map(|h| {
            let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
            (h.key.to_owned(), value.into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Metadata;
    use crate::store::Position;

    #[test]
    fn event_headers_carry_identity_and_trace_context() {
        let event = RecordedEvent {
            event_id: uuid::Uuid::nil(),
            stream_id: "order-1".into(),
            stream_version: 3,
            position: Position::new(0, 9),
            occurred_at: chrono::Utc::now(),
            recorded_at: chrono::Utc::now(),
            event_type: "OrderPlaced".into(),
            schema_version: 2,
            payload: serde_json::json!({}),
            metadata: Metadata {
                traceparent: Some("00-abc-def-01".into()),
                ..Metadata::default()
            },
        };
        let map = to_map(Some(&for_event(&event)));
        assert_eq!(map[EVENT_ID], uuid::Uuid::nil().to_string());
        assert_eq!(map[EVENT_TYPE], "OrderPlaced");
        assert_eq!(map[SCHEMA_VERSION], "2");
        assert_eq!(map[STREAM_ID], "order-1");
        assert_eq!(map[STREAM_VERSION], "3");
        assert_eq!(map[TRACEPARENT], "00-abc-def-01");
        assert!(!map.contains_key(TRACESTATE));
    }
}
