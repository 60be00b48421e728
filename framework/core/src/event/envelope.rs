//! The envelope an event is appended in, and the one it is read back in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{DomainEvent, Metadata};
use crate::store::Position;
use crate::{Error, Result};

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The event's id. Appending an id that is already stored is a no-op, so callers that may
    /// re-deliver (CDC) pass a deterministic id.
    pub event_id: Uuid,
    /// The stable type name.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The payload, without the type.
    pub payload: Value,
    /// Correlation, causation, trace context, source position.
    pub metadata: Metadata,
    /// When the fact happened (for CDC: the source transaction's time).
    pub occurred_at: DateTime<Utc>,
}

impl NewEvent {
    /// Wraps a domain event with a fresh random id, empty metadata and `occurred_at` = now.
    pub fn from_domain<E: DomainEvent>(event: &E) -> Result<Self> {
        let payload = event.to_payload().map_err(|source| Error::Serialize {
            what: format!("event `{}`", event.event_type()),
            source,
        })?;
        Ok(Self {
            event_id: Uuid::new_v4(),
            event_type: event.event_type().to_owned(),
            schema_version: event.event_version(),
            payload,
            metadata: Metadata::default(),
            occurred_at: Utc::now(),
        })
    }

    /// Sets the event id (e.g. a deterministic one).
    #[must_use]
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets when the fact happened.
    #[must_use]
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = at;
        self
    }
}

/// An event as stored: the envelope every reader gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The event's id.
    pub event_id: Uuid,
    /// The stream (entity) it belongs to.
    pub stream_id: String,
    /// Its version within the stream, from 1.
    pub stream_version: u64,
    /// Its place in the global order subscribers read.
    pub position: Position,
    /// When the fact happened.
    pub occurred_at: DateTime<Utc>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The stable type name.
    pub event_type: String,
    /// The payload's schema version as stored (before upcasting).
    pub schema_version: u32,
    /// The payload.
    pub payload: Value,
    /// Correlation, causation, trace context, source position.
    pub metadata: Metadata,
}
