//! Upcasters lift stored payloads of an old schema version to the version the code reads.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{DomainEvent, RecordedEvent};
use crate::{Error, Result};

/// Lifts one event type's payload from one schema version to the next.
pub trait Upcaster: Send + Sync + 'static {
    /// The event type it applies to.
    fn event_type(&self) -> &str;
    /// The version it reads; it produces `source_version() + 1`.
    fn source_version(&self) -> u32;
    /// Lifts the payload, or says why it cannot.
    fn upcast(&self, payload: Value) -> std::result::Result<Value, String>;
}

/// An upcaster from a closure: `(type, from_version, fn)`.
struct FnUpcaster<F> {
    event_type: String,
    from_version: u32,
    f: F,
}

impl<F> Upcaster for FnUpcaster<F>
where
    F: Fn(Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
{
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn source_version(&self) -> u32 {
        self.from_version
    }
    fn upcast(&self, payload: Value) -> std::result::Result<Value, String> {
        (self.f)(payload)
    }
}

/// The upcasters registered per (type, version); applied as a chain on read.
///
/// ```
/// use keel_core::event::Upcasters;
/// use serde_json::json;
///
/// let upcasters = Upcasters::new()
///     // v1 had `name`; v2 splits it.
///     .with_fn("CustomerRegistered", 1, |mut p| {
///         let name = p["name"].take();
///         Ok(json!({ "first_name": name, "last_name": "" }))
///     })
///     // v3 adds `vip`.
///     .with_fn("CustomerRegistered", 2, |mut p| {
///         p["vip"] = json!(false);
///         Ok(p)
///     });
/// let (version, payload) = upcasters
///     .lift("CustomerRegistered", 1, 3, json!({ "name": "Ada" }))
///     .unwrap();
/// assert_eq!(version, 3);
/// assert_eq!(payload, json!({ "first_name": "Ada", "last_name": "", "vip": false }));
/// ```
#[derive(Clone, Default)]
pub struct Upcasters {
    by_key: HashMap<(String, u32), Arc<dyn Upcaster>>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_key.keys()).finish()
    }
}

impl Upcasters {
    /// No upcasters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an upcaster; a later one for the same (type, version) replaces the earlier.
    #[must_use]
    pub fn with(mut self, upcaster: impl Upcaster) -> Self {
        let key = (upcaster.event_type().to_owned(), upcaster.source_version());
        self.by_key.insert(key, Arc::new(upcaster));
        self
    }

    /// Registers a closure lifting `event_type` from `from_version` to `from_version + 1`.
    #[must_use]
    pub fn with_fn<F>(self, event_type: &str, from_version: u32, f: F) -> Self
    where
        F: Fn(Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
    {
        self.with(FnUpcaster {
            event_type: event_type.to_owned(),
            from_version,
            f,
        })
    }

    /// Lifts a payload from `version` to `target`, one registered step at a time. Returns the
    /// version reached (equal to `target` on success) and the payload. Fails with
    /// [`Error::Upcast`] when an upcaster refuses; returns the last version reached when the
    /// chain has a hole, so the caller can name it.
    pub fn lift(
        &self,
        event_type: &str,
        mut version: u32,
        target: u32,
        mut payload: Value,
    ) -> Result<(u32, Value)> {
        while version < target {
            let Some(upcaster) = self.by_key.get(&(event_type.to_owned(), version)) else {
                break;
            };
            payload = upcaster.upcast(payload).map_err(|reason| Error::Upcast {
                event_type: event_type.to_owned(),
                from_version: version,
                reason,
            })?;
            version += 1;
        }
        Ok((version, payload))
    }

    /// Decodes a recorded event into the domain event type `E`, lifting its payload to the
    /// version `E` reads. Errors name the type, version, stream and position.
    pub fn decode<E: DomainEvent>(&self, recorded: &RecordedEvent) -> Result<E> {
        let unknown = || Error::UnknownEventType {
            event_type: recorded.event_type.clone(),
            schema_version: recorded.schema_version,
            stream_id: recorded.stream_id.clone(),
            stream_version: recorded.stream_version,
            position: recorded.position,
        };
        let target = E::current_version(&recorded.event_type).ok_or_else(unknown)?;
        if recorded.schema_version > target {
            // Written by newer code than this reader: never guess.
            return Err(unknown());
        }
        // At the current version no upcaster runs: the payload is read where it is.
        let decoded = if recorded.schema_version == target {
            E::from_payload_ref(&recorded.event_type, &recorded.payload)
        } else {
            let (version, payload) = self.lift(
                &recorded.event_type,
                recorded.schema_version,
                target,
                recorded.payload.clone(),
            )?;
            if version != target {
                return Err(Error::MissingUpcaster {
                    event_type: recorded.event_type.clone(),
                    schema_version: version,
                    target_version: target,
                    stream_id: recorded.stream_id.clone(),
                    stream_version: recorded.stream_version,
                    position: recorded.position,
                });
            }
            E::from_payload(&recorded.event_type, payload)
        };
        decoded.map_err(|e| match e {
            super::DecodeError::UnknownType => unknown(),
            super::DecodeError::Payload(source) => Error::CorruptPayload {
                event_type: recorded.event_type.clone(),
                schema_version: target,
                stream_id: recorded.stream_id.clone(),
                stream_version: recorded.stream_version,
                position: recorded.position,
                source,
            },
        })
    }
}
