//! The values the store traits take and return.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::event::RecordedEvent;

/// The version a stream must be at for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (0 = no events).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub stream_version: u64,
    /// The events written (those not already stored), as recorded.
    pub appended: Vec<RecordedEvent>,
    /// Ids skipped because they were already stored.
    pub duplicates: Vec<Uuid>,
}

/// Bounds of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamQuery {
    /// The first version to return (1 = from the start).
    pub from_version: u64,
    /// Only events recorded at or before this time.
    pub recorded_until: Option<DateTime<Utc>>,
    /// At most this many events.
    pub limit: Option<usize>,
}

impl Default for StreamQuery {
    fn default() -> Self {
        Self {
            from_version: 1,
            recorded_until: None,
            limit: None,
        }
    }
}

impl StreamQuery {
    /// The whole stream.
    pub fn all() -> Self {
        Self::default()
    }

    /// From `version` (inclusive) on.
    pub fn from_version(version: u64) -> Self {
        Self {
            from_version: version.max(1),
            ..Self::default()
        }
    }

    /// Only events recorded at or before `at`.
    #[must_use]
    pub fn recorded_until(mut self, at: DateTime<Utc>) -> Self {
        self.recorded_until = Some(at);
        self
    }

    /// At most `limit` events.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// An aggregate's state at a stream version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The stream.
    pub stream_id: String,
    /// The aggregate type that took it.
    pub aggregate_type: String,
    /// The version of the last event folded into it.
    pub stream_version: u64,
    /// The aggregate's snapshot schema version; a snapshot of another version is ignored.
    pub schema_version: u32,
    /// When the last event folded into it was recorded.
    pub last_recorded_at: DateTime<Utc>,
    /// The serialized state.
    pub state: Value,
}

/// An outbox row: an appended event waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The outbox row id.
    pub id: i64,
    /// The event to publish.
    pub event: RecordedEvent,
}
