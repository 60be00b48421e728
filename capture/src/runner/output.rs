//! From a [`ConnectRecord`] to the Kafka [`Record`]: the transform chain, then the JSON
//! converter (with the table's schemas when `schemas.enable=true` and the shape is unchanged).

use serde::Serialize;

use super::Capture;
use crate::envelope::EnvelopeSchemas;
use crate::sink::Record;
use crate::transforms::{ConnectRecord, Payload, TransformError};
use crate::{Error, Result};

/// Why a record could not be finished.
pub(super) enum Unfinished {
    /// A transform failed (a dead letter with `errors.tolerance=all`).
    Transform(TransformError),
    /// Serialization failed (never for the values we build).
    Other(Error),
}

impl Capture {
    /// Runs `record` through the transforms and writes it out; `Ok(None)` when a transform
    /// dropped it. `schemas` are the table's, for change events.
    pub(super) fn finish(
        &self,
        record: ConnectRecord,
        schemas: Option<&EnvelopeSchemas>,
        what: &str,
    ) -> std::result::Result<Option<Record>, Unfinished> {
        let Some(record) = self
            .config
            .transforms
            .apply(record)
            .map_err(Unfinished::Transform)?
        else {
            return Ok(None);
        };
        let cfg = &self.config;
        let json_err = |e: serde_json::Error| {
            Unfinished::Other(Error::Mapping {
                table: what.to_owned(),
                column: "*".into(),
                reason: e.to_string(),
            })
        };
        let key = record
            .key
            .map(|k| {
                let schema = match (&k, schemas) {
                    (Payload::Row(_), Some(s)) if cfg.key_schemas => s.key.as_ref(),
                    _ => None,
                };
                k.to_bytes(schema)
            })
            .transpose()
            .map_err(json_err)?;
        let value = record
            .value
            .map(|v| {
                let schema = match (&v, schemas) {
                    (Payload::Envelope { extra, .. }, Some(s))
                        if cfg.value_schemas && extra.0.is_empty() =>
                    {
                        Some(&s.value)
                    }
                    _ => None,
                };
                v.to_bytes(schema)
            })
            .transpose()
            .map_err(json_err)?;
        Ok(Some(Record {
            topic: record.topic,
            key,
            value,
            headers: record.headers,
        }))
    }

    /// A record capture writes itself (heartbeat, transaction, schema change): `key` and
    /// `value` as JSON without schemas, through the transforms. `file`/`pos` name the place
    /// for a transform's error.
    pub(super) fn own_record(
        &self,
        topic: String,
        key: &impl Serialize,
        value: &impl Serialize,
        (file, pos): (&str, u64),
    ) -> Result<Option<Record>> {
        let json = |v: &dyn erased::Ser| {
            v.to_vec().map_err(|e| Error::Mapping {
                table: topic.clone(),
                column: "*".into(),
                reason: e.to_string(),
            })
        };
        let record = ConnectRecord {
            key: Some(Payload::Encoded(json(key)?)),
            value: Some(Payload::Encoded(json(value)?)),
            topic: topic.clone(),
            headers: Vec::new(),
        };
        self.finish(record, None, &topic)
            .map_err(|unfinished| match unfinished {
                Unfinished::Transform(t) => Error::Transform {
                    alias: t.alias,
                    table: topic.clone(),
                    file: file.to_owned(),
                    pos,
                    reason: t.reason,
                },
                Unfinished::Other(e) => e,
            })
    }
}

/// Serialization behind a trait object.
mod erased {
    pub(super) trait Ser {
        fn to_vec(&self) -> serde_json::Result<Vec<u8>>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}
