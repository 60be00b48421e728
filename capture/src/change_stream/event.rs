//! One change as the in-process consumer receives it.

use serde_json::Value as Json;

use crate::offsets::Offset;
use crate::sink::Record;
use crate::transforms::Header;
use crate::{Error, Result};

/// A record capture would have written to Kafka, decoded: the topic, the key and value as the
/// JSON converter wrote them (the Debezium envelope for change events), and the headers.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// The topic it would go to (`<topic.prefix>.<db>.<table>` for change events, after
    /// transforms).
    pub topic: String,
    /// The key: the primary-key columns for change events; `None` for a table without one.
    pub key: Option<Json>,
    /// The value: the change event envelope (`before`, `after`, `source`, `op`, ...); `None`
    /// for a tombstone.
    pub value: Option<Json>,
    /// Headers set by transforms.
    pub headers: Vec<Header>,
    offset: Offset,
    seq: u64,
}

impl ChangeEvent {
    pub(crate) fn from_record(record: &Record, offset: Offset, seq: u64) -> Result<Self> {
        let parse = |bytes: &Option<Vec<u8>>| -> Result<Option<Json>> {
            bytes
                .as_deref()
                .map(serde_json::from_slice)
                .transpose()
                .map_err(|e| Error::Mapping {
                    table: record.topic.clone(),
                    column: "*".into(),
                    reason: format!("a record is not JSON: {e}"),
                })
        };
        Ok(Self {
            topic: record.topic.clone(),
            key: parse(&record.key)?,
            value: parse(&record.value)?,
            headers: record.headers.clone(),
            offset,
            seq,
        })
    }

    /// Where capture resumes once this event (and every one before it) is acknowledged.
    pub fn offset(&self) -> &Offset {
        &self.offset
    }

    /// Its place in the stream, from 1: acknowledging it acknowledges every lower one.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The envelope's `op` (`c`, `u`, `d`, `r`), `None` for tombstones and records that are
    /// not change events.
    pub fn op(&self) -> Option<&str> {
        let value = self.value.as_ref()?;
        // With `value.converter.schemas.enable=true`: `{"schema": …, "payload": …}`.
        let envelope = match (value.get("schema"), value.get("payload")) {
            (Some(_), Some(payload)) => payload,
            _ => value,
        };
        envelope.get("op")?.as_str()
    }
}
