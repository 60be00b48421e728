//! A dead letter as a Kafka record and back: the key is the stream id (the original record's
//! key for a record that was not an event), the value the payload as stored (the original
//! value for a record that was not an event), and the headers say which projection, where and
//! why.

use keel_core::Position;
use keel_core::kafka::headers as event_headers;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use serde_json::Value;
use uuid::Uuid;

use super::super::{DeadLetter, DeadLetterStage};

/// The letter's identity (projection, event, stage, sink) as a UUID: consumers of the topic
/// deduplicate by it, as the tables keep a letter once.
pub const DEAD_LETTER_ID: &str = "keel.dead_letter.id";
/// The projection that skipped the record.
pub const PROJECTION: &str = "keel.projection";
/// Where it failed: `decode`, `source` or `sink`.
pub const STAGE: &str = "keel.dead_letter.stage";
/// The event's global position in the store, `<commit>/<seq>`.
pub const POSITION: &str = "keel.position";
/// The decoder's or the sink's reason (keel-core's dead-letter header name).
pub const ERROR: &str = event_headers::ERROR;
/// When it was dead-lettered, RFC 3339 with microseconds.
pub const AT: &str = "keel.dead_letter.at";
/// How the value holds the payload: `json` (the payload as stored, as JSON) or `text` (a
/// record that was not an event: its original value as it was).
pub const VALUE: &str = "keel.dead_letter.value";
/// On a sink's refusal: the sink (`redis`, `elasticsearch`, ...).
pub const SINK: &str = "keel.sink";
/// On a sink's refusal: the refused document's key.
pub const DOC_KEY: &str = "keel.doc_key";
/// On a record that is not an event: the topic it was read from.
pub const ORIGINAL_TOPIC: &str = event_headers::ORIGINAL_TOPIC;
/// On a record that is not an event: its partition.
pub const ORIGINAL_PARTITION: &str = event_headers::ORIGINAL_PARTITION;
/// On a record that is not an event: its offset.
pub const ORIGINAL_OFFSET: &str = event_headers::ORIGINAL_OFFSET;

/// Kafka Connect's context headers, for tools that read a sink connector's dead-letter queue.
const CONNECT_CONNECTOR: &str = "__connect.errors.connector.name";
const CONNECT_STAGE: &str = "__connect.errors.stage";
const CONNECT_MESSAGE: &str = "__connect.errors.exception.message";
const CONNECT_TOPIC: &str = "__connect.errors.topic";
const CONNECT_PARTITION: &str = "__connect.errors.partition";
const CONNECT_OFFSET: &str = "__connect.errors.offset";

/// The namespace of [`DEAD_LETTER_ID`]s.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_656c_2d64_6561_642d_6c65_7474_6572);

/// A letter ready to publish: key, value, headers, timestamp (ms).
pub(crate) struct Record {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: OwnedHeaders,
    pub(crate) timestamp_ms: i64,
}

/// The letter's identity as a UUID (v5 of projection, event id, stage and sink).
pub fn dead_letter_id(letter: &DeadLetter) -> Uuid {
    let name = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        letter.projection,
        letter.event_id,
        letter.stage_name(),
        letter.sink()
    );
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// The record of `letter`.
pub(crate) fn to_record(letter: &DeadLetter) -> Record {
    let id = dead_letter_id(letter).to_string();
    let position = letter.position.to_string();
    let schema_version = letter.schema_version.to_string();
    let stream_version = letter.stream_version.to_string();
    let at = letter
        .at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let connect_stage = match letter.stage {
        DeadLetterStage::Decode | DeadLetterStage::Source { .. } => "VALUE_CONVERTER",
        DeadLetterStage::Sink { .. } => "TASK_PUT",
    };
    let mut pairs: Vec<(&str, String)> = vec![
        (DEAD_LETTER_ID, id),
        (PROJECTION, letter.projection.clone()),
        (STAGE, letter.stage_name().to_owned()),
        (POSITION, position),
        (ERROR, letter.reason.clone()),
        (AT, at),
        (event_headers::EVENT_ID, letter.event_id.to_string()),
        (event_headers::EVENT_TYPE, letter.event_type.clone()),
        (event_headers::SCHEMA_VERSION, schema_version),
        (event_headers::STREAM_ID, letter.stream_id.clone()),
        (event_headers::STREAM_VERSION, stream_version),
        (CONNECT_CONNECTOR, letter.projection.clone()),
        (CONNECT_STAGE, connect_stage.to_owned()),
        (CONNECT_MESSAGE, letter.reason.clone()),
    ];
    match &letter.stage {
        DeadLetterStage::Decode => {}
        DeadLetterStage::Sink { sink, key } => {
            pairs.push((SINK, sink.clone()));
            pairs.push((DOC_KEY, key.clone()));
        }
        DeadLetterStage::Source { origin } => {
            let (topic, partition, offset) = split_origin(origin);
            for (name, value) in [
                (ORIGINAL_TOPIC, topic),
                (ORIGINAL_PARTITION, partition),
                (ORIGINAL_OFFSET, offset),
                (CONNECT_TOPIC, topic),
                (CONNECT_PARTITION, partition),
                (CONNECT_OFFSET, offset),
            ] {
                pairs.push((name, value.to_owned()));
            }
        }
    }
    let (encoding, value) = match (&letter.stage, &letter.payload) {
        (_, Value::Null) => ("json", None),
        (DeadLetterStage::Source { .. }, Value::String(text)) => {
            ("text", Some(text.clone().into_bytes()))
        }
        (_, payload) => ("json", Some(payload.to_string().into_bytes())),
    };
    pairs.push((VALUE, encoding.to_owned()));
    let mut headers = OwnedHeaders::new_with_capacity(pairs.len());
    for (key, value) in &pairs {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
    Record {
        key: (!letter.stream_id.is_empty()).then(|| letter.stream_id.clone().into_bytes()),
        value,
        headers,
        timestamp_ms: letter.at.timestamp_millis(),
    }
}

/// The projection a record's letter belongs to (`None`: not a letter of ours).
pub(crate) fn projection_of(headers: Option<&impl Headers>) -> Option<String> {
    header(headers, PROJECTION)
}

/// The letter a record holds, or why it does not read back.
pub(crate) fn from_record(
    headers: Option<&impl Headers>,
    value: Option<&[u8]>,
) -> Result<DeadLetter, String> {
    let get = |name: &str| header(headers, name).ok_or_else(|| format!("no `{name}` header"));
    let number = |name: &str| -> Result<u64, String> {
        get(name)?
            .parse()
            .map_err(|e| format!("header `{name}`: {e}"))
    };
    let stage = match get(STAGE)?.as_str() {
        "decode" => DeadLetterStage::Decode,
        "sink" => DeadLetterStage::Sink {
            sink: get(SINK)?,
            key: get(DOC_KEY)?,
        },
        "source" => DeadLetterStage::Source {
            origin: format!(
                "{}/{}/{}",
                get(ORIGINAL_TOPIC)?,
                get(ORIGINAL_PARTITION)?,
                get(ORIGINAL_OFFSET)?
            ),
        },
        other => return Err(format!("unknown stage `{other}`")),
    };
    let position = get(POSITION)?;
    let (commit, seq) = position
        .split_once('/')
        .and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)))
        .ok_or_else(|| format!("header `{POSITION}` is not `<commit>/<seq>`: {position}"))?;
    let payload = match (header(headers, VALUE).as_deref(), value) {
        (_, None) => Value::Null,
        (Some("text"), Some(bytes)) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        (_, Some(bytes)) => {
            serde_json::from_slice(bytes).map_err(|e| format!("the value is not JSON: {e}"))?
        }
    };
    let at = get(AT)?;
    Ok(DeadLetter {
        projection: get(PROJECTION)?,
        stage,
        event_id: get(event_headers::EVENT_ID)?
            .parse()
            .map_err(|e| format!("header `{}`: {e}", event_headers::EVENT_ID))?,
        event_type: get(event_headers::EVENT_TYPE)?,
        schema_version: u32::try_from(number(event_headers::SCHEMA_VERSION)?)
            .map_err(|e| format!("header `{}`: {e}", event_headers::SCHEMA_VERSION))?,
        stream_id: get(event_headers::STREAM_ID)?,
        stream_version: number(event_headers::STREAM_VERSION)?,
        position: Position { commit, seq },
        payload,
        reason: get(ERROR)?,
        at: chrono::DateTime::parse_from_rfc3339(&at)
            .map_err(|e| format!("header `{AT}`: {e}"))?
            .to_utc(),
    })
}

/// `<topic>/<partition>/<offset>` into its parts (topic names cannot hold `/`).
fn split_origin(origin: &str) -> (&str, &str, &str) {
    let mut parts = origin.rsplitn(3, '/');
    let offset = parts.next().unwrap_or_default();
    let partition = parts.next().unwrap_or_default();
    let topic = parts.next().unwrap_or_default();
    (topic, partition, offset)
}

/// The last value of header `name` as text.
fn header(headers: Option<&impl Headers>, name: &str) -> Option<String> {
    headers?
        .iter()
        .filter(|h| h.key == name)
        .last()
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    fn letter(stage: DeadLetterStage, payload: Value) -> DeadLetter {
        DeadLetter {
            projection: "orders".into(),
            stage,
            event_id: Uuid::from_u128(7),
            event_type: "OrderPlaced".into(),
            schema_version: 2,
            stream_id: "order-1".into(),
            stream_version: 3,
            position: Position { commit: 9, seq: 41 },
            payload,
            reason: "invalid type: integer `5`, expected a string".into(),
            at: DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        }
    }

    #[test]
    fn every_stage_round_trips_through_a_record() {
        for (stage, payload) in [
            (DeadLetterStage::Decode, json!({"customer": 5})),
            (
                DeadLetterStage::Sink {
                    sink: "redis".into(),
                    key: "order-1".into(),
                },
                json!({"total": 1}),
            ),
            (
                DeadLetterStage::Source {
                    origin: "shop.events/2/41".into(),
                },
                json!("not an event"),
            ),
            (DeadLetterStage::Decode, Value::Null),
            (
                DeadLetterStage::Source {
                    origin: "shop.events/2/42".into(),
                },
                json!({"an": "object"}),
            ),
        ] {
            let original = letter(stage, payload);
            let record = to_record(&original);
            assert_eq!(record.key.as_deref(), Some(&b"order-1"[..]));
            assert_eq!(record.timestamp_ms, 1_700_000_000_123);
            let back = from_record(Some(&record.headers), record.value.as_deref()).unwrap();
            assert_eq!(back, original);
            assert_eq!(
                projection_of(Some(&record.headers)).as_deref(),
                Some("orders")
            );
        }
    }

    #[test]
    fn headers_name_the_projection_position_reason_and_origin() {
        let record = to_record(&letter(
            DeadLetterStage::Source {
                origin: "shop.events/2/41".into(),
            },
            json!("not an event"),
        ));
        let get = |name| header(Some(&record.headers), name);
        assert_eq!(get(PROJECTION).as_deref(), Some("orders"));
        assert_eq!(get(POSITION).as_deref(), Some("9/41"));
        assert_eq!(get(STAGE).as_deref(), Some("source"));
        assert_eq!(
            get(ERROR).as_deref(),
            Some("invalid type: integer `5`, expected a string")
        );
        assert_eq!(get(ORIGINAL_TOPIC).as_deref(), Some("shop.events"));
        assert_eq!(get(CONNECT_OFFSET).as_deref(), Some("41"));
        assert_eq!(record.value.as_deref(), Some(&b"not an event"[..]));
    }

    #[test]
    fn the_id_is_the_letters_identity() {
        let a = letter(DeadLetterStage::Decode, json!({}));
        let later = DeadLetter {
            at: Utc::now(),
            reason: "other".into(),
            ..a.clone()
        };
        assert_eq!(dead_letter_id(&a), dead_letter_id(&later));
        let by_sink = letter(
            DeadLetterStage::Sink {
                sink: "redis".into(),
                key: "k".into(),
            },
            json!({}),
        );
        assert_ne!(dead_letter_id(&a), dead_letter_id(&by_sink));
    }

    #[test]
    fn a_record_missing_a_header_says_which() {
        let headers = OwnedHeaders::new().insert(Header {
            key: STAGE,
            value: Some("decode"),
        });
        let err = from_record(Some(&headers), None).unwrap_err();
        assert!(err.contains(POSITION), "{err}");
    }
}
