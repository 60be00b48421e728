//! The record a transform chain works on: topic, key, value and headers, as Kafka Connect's
//! `ConnectRecord` has them, before the JSON converter writes them out.

use serde::Serialize;
use serde_json::Value as Json;

use crate::envelope::{self, Envelope, Row};

/// A Kafka record on its way through the transform chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    /// The topic it goes to.
    pub topic: String,
    /// The key; `None` for a table without a primary key.
    pub key: Option<Payload>,
    /// The value; `None` for a tombstone.
    pub value: Option<Payload>,
    /// Headers, in order.
    pub headers: Vec<Header>,
}

/// One Kafka header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name.
    pub key: String,
    /// The bytes; `None` for a null header value.
    pub value: Option<Vec<u8>>,
}

impl Header {
    /// A header holding a JSON value as Kafka Connect's `SimpleHeaderConverter` writes it:
    /// strings as their UTF-8 bytes, other values as JSON text, null as a null value.
    pub fn from_json(key: impl Into<String>, value: &Json) -> Self {
        let value = match value {
            Json::Null => None,
            Json::String(s) => Some(s.clone().into_bytes()),
            other => Some(other.to_string().into_bytes()),
        };
        Self {
            key: key.into(),
            value,
        }
    }

    /// A header holding text.
    pub fn text(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into().into_bytes()),
        }
    }
}

/// A key or value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Payload {
    /// A Debezium change event, with top-level fields a transform appended (`extra`).
    Envelope {
        /// The event.
        envelope: Box<Envelope>,
        /// Fields appended after the envelope's own (`InsertField$Value`).
        extra: Row,
    },
    /// A flat object with its fields in order: a row, or a primary key.
    Row(Row),
    /// Any other JSON value (an outbox payload or key).
    Json(Json),
    /// A value already written as JSON (heartbeat, transaction and schema change records):
    /// routing transforms and filters apply, value-changing ones pass it unchanged.
    Encoded(Vec<u8>),
}

#[derive(Serialize)]
struct WithExtra<'a> {
    #[serde(flatten)]
    envelope: &'a Envelope,
    #[serde(flatten)]
    extra: &'a Row,
}

impl Payload {
    /// A change event with nothing appended.
    pub fn envelope(envelope: Envelope) -> Self {
        Payload::Envelope {
            envelope: Box::new(envelope),
            extra: Row::default(),
        }
    }

    /// The change event, if this is one.
    pub fn as_envelope(&self) -> Option<&Envelope> {
        match self {
            Payload::Envelope { envelope, .. } => Some(envelope),
            _ => None,
        }
    }

    /// A top-level field by name: of the change event (`op`, `source`, ...), the row, or a
    /// JSON object; `None` when absent or when the value is already encoded.
    pub fn field(&self, name: &str) -> Option<Json> {
        match self {
            Payload::Envelope { envelope, extra } => extra
                .0
                .iter()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| {
                    serde_json::to_value(envelope.as_ref())
                        .ok()
                        .and_then(|v| v.get(name).cloned())
                }),
            Payload::Row(row) => row
                .0
                .iter()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v.clone()),
            Payload::Json(json) => json.get(name).cloned(),
            Payload::Encoded(_) => None,
        }
    }

    /// The JSON bytes, wrapped as `{"schema": ..., "payload": ...}` when `schema` is given
    /// (an already encoded value is written as is).
    pub fn to_bytes(&self, schema: Option<&Json>) -> serde_json::Result<Vec<u8>> {
        match self {
            Payload::Envelope { envelope, extra } if extra.0.is_empty() => match schema {
                None => {
                    let mut out = Vec::with_capacity(512);
                    envelope.write_json(&mut out)?;
                    Ok(out)
                }
                Some(_) => envelope::to_json(envelope.as_ref(), schema),
            },
            Payload::Envelope { envelope, extra } => envelope::to_json(
                &WithExtra {
                    envelope: envelope.as_ref(),
                    extra,
                },
                schema,
            ),
            Payload::Row(row) => match schema {
                None => {
                    let mut out = Vec::with_capacity(64);
                    row.write_json(&mut out)?;
                    Ok(out)
                }
                Some(_) => envelope::to_json(row, schema),
            },
            Payload::Json(json) => envelope::to_json(json, schema),
            Payload::Encoded(bytes) => Ok(bytes.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_are_written_as_the_simple_header_converter_does() {
        assert_eq!(
            Header::from_json("a", &json!("c")).value.as_deref(),
            Some(&b"c"[..])
        );
        assert_eq!(
            Header::from_json("a", &json!(12)).value.as_deref(),
            Some(&b"12"[..])
        );
        assert_eq!(Header::from_json("a", &Json::Null).value, None);
    }

    #[test]
    fn rows_keep_their_field_order() {
        let row = Payload::Row(Row(vec![("b".into(), json!(1)), ("a".into(), json!(2))]));
        assert_eq!(row.to_bytes(None).unwrap(), br#"{"b":1,"a":2}"#);
        assert_eq!(row.field("a"), Some(json!(2)));
    }
}
