//! Dead letters: events a projection could not decode and documents a sink refused for good,
//! kept with their reason so the projection can go on (`errors.tolerance = all`).
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`DeadLetter`], [`DeadLetterStage`], the [`DeadLetterStore`] trait |
//! | `memory.rs` | [`MemoryDeadLetters`], for tests |
//! | `row.rs` | what the SQL backends store per column |
//! | `sqlite.rs` | [`SqliteDeadLetters`]: the table `keel_projection_dead_letters` in SQLite |
//! | `postgres.rs` | [`PostgresDeadLetters`]: the same table in PostgreSQL |
//! | `kafka/` | [`KafkaDeadLetters`]: a dead-letter topic, the letter in headers (feature `kafka`) |

#[cfg(feature = "kafka")]
pub mod kafka;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keel_core::{Position, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

#[cfg(feature = "kafka")]
pub use kafka::{KafkaDeadLetterConfig, KafkaDeadLetters};
pub use memory::MemoryDeadLetters;
#[cfg(feature = "postgres")]
pub use postgres::PostgresDeadLetters;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDeadLetters;

use crate::Result;

/// Where a record failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterStage {
    /// The event did not decode into the projection's event type (after upcasting).
    Decode,
    /// The record read from the source is not an event at all (a Kafka record whose value is
    /// not a `RecordedEvent`); the letter's event fields are empty and `payload` holds the
    /// record's value as text.
    Source {
        /// Where the record was: `<topic>/<partition>/<offset>`.
        origin: String,
    },
    /// A sink refused the document the event produced, for good.
    Sink {
        /// The sink (`redis`, `elasticsearch`, ...).
        sink: String,
        /// The document's key.
        key: String,
    },
}

/// A record the projection skipped: the event as stored, where and why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The projection.
    pub projection: String,
    /// Decoding, a record that is not an event, or a sink's refusal (of the document the event
    /// changed last).
    pub stage: DeadLetterStage,
    /// The event's id.
    pub event_id: Uuid,
    /// Its stored type name.
    pub event_type: String,
    /// Its payload's schema version as stored.
    pub schema_version: u32,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: Position,
    /// Its payload as stored.
    pub payload: Value,
    /// What the decoder or the sink said.
    pub reason: String,
    /// When it was dead-lettered.
    pub at: DateTime<Utc>,
}

impl DeadLetter {
    /// A dead letter of `event` for `projection`, dated now.
    pub fn new(
        projection: &str,
        stage: DeadLetterStage,
        event: &RecordedEvent,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            projection: projection.to_owned(),
            stage,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            position: event.position,
            payload: event.payload.clone(),
            reason: reason.into(),
            at: Utc::now(),
        }
    }

    /// Whether `other` is the same record (projection, event, stage and sink): what a
    /// destination keeps once.
    pub fn same_record(&self, other: &Self) -> bool {
        self.projection == other.projection
            && self.event_id == other.event_id
            && self.stage_name() == other.stage_name()
            && self.sink() == other.sink()
    }

    /// `decode`, `source` or `sink`.
    pub fn stage_name(&self) -> &'static str {
        match self.stage {
            DeadLetterStage::Decode => "decode",
            DeadLetterStage::Source { .. } => "source",
            DeadLetterStage::Sink { .. } => "sink",
        }
    }

    /// The sink that refused it, or the origin of a record that is not an event (`""` for a
    /// decode failure): with the stage and event id, what makes a letter unique.
    pub fn sink(&self) -> &str {
        match &self.stage {
            DeadLetterStage::Decode => "",
            DeadLetterStage::Source { origin } => origin,
            DeadLetterStage::Sink { sink, .. } => sink,
        }
    }

    /// The refused document's key (`None` unless a sink refused it).
    pub fn key(&self) -> Option<&str> {
        match &self.stage {
            DeadLetterStage::Decode | DeadLetterStage::Source { .. } => None,
            DeadLetterStage::Sink { key, .. } => Some(key),
        }
    }
}

/// Where dead letters go.
///
/// Contract: [`put`](DeadLetterStore::put) returns `Ok` only once the letters are durable, and
/// keeps a record once however often it is put (a batch can be handled again after a crash):
/// a table by its unique key; a topic, which is at least once, by an id on each record that
/// [`list`](DeadLetterStore::list) and the topic's consumers deduplicate by.
/// A failure that may pass is retryable ([`Error::is_retryable`](crate::Error::is_retryable)):
/// the runner waits and puts again, its checkpoint staying where it is.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + 'static {
    /// A short name for logs and errors (`sqlite`, `postgres`, `kafka`, `memory`).
    fn name(&self) -> &'static str;

    /// Stores the letters, each once.
    async fn put(&self, letters: &[DeadLetter]) -> Result<()>;

    /// The dead letters of a projection, oldest first.
    async fn list(&self, projection: &str) -> Result<Vec<DeadLetter>>;
}
