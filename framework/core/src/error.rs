//! The one error type of `keel-core`.

use crate::store::{ExpectedVersion, Position};

/// Everything that can go wrong in `keel-core`.
///
/// A business rejection is not here: it is the aggregate's own error type, kept apart by
/// [`CommandError`](crate::CommandError). A concurrency conflict is [`Error::Conflict`];
/// everything else is infrastructure or bad data, and names where it happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream was not at the version the append expected.
    #[error(
        "concurrency conflict on stream `{stream_id}`: expected {expected}, found version {actual}"
    )]
    Conflict {
        /// The stream appended to.
        stream_id: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append ran (0 for a stream that does not exist).
        actual: u64,
    },

    /// A stored event's type is not one the reader knows.
    #[error(
        "unknown event type `{event_type}` version {schema_version} in stream `{stream_id}` at version {stream_version} (position {position})"
    )]
    UnknownEventType {
        /// The stored type name.
        event_type: String,
        /// The stored schema version.
        schema_version: u32,
        /// The stream it was read from.
        stream_id: String,
        /// Its version in the stream.
        stream_version: u64,
        /// Its global position.
        position: Position,
    },

    /// A stored event's schema version cannot be lifted to the version the code reads.
    #[error(
        "no upcaster lifts event `{event_type}` from version {schema_version} to {target_version} (stream `{stream_id}` at version {stream_version}, position {position})"
    )]
    MissingUpcaster {
        /// The stored type name.
        event_type: String,
        /// The version reached before the chain broke.
        schema_version: u32,
        /// The version the code reads.
        target_version: u32,
        /// The stream it was read from.
        stream_id: String,
        /// Its version in the stream.
        stream_version: u64,
        /// Its global position.
        position: Position,
    },

    /// A stored payload does not decode into its event type.
    #[error(
        "corrupt payload of event `{event_type}` version {schema_version} in stream `{stream_id}` at version {stream_version} (position {position}): {source}"
    )]
    CorruptPayload {
        /// The stored type name.
        event_type: String,
        /// The stored schema version (after upcasting).
        schema_version: u32,
        /// The stream it was read from.
        stream_id: String,
        /// Its version in the stream.
        stream_version: u64,
        /// Its global position.
        position: Position,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },

    /// An upcaster refused a payload.
    #[error("upcaster of `{event_type}` from version {from_version} failed: {reason}")]
    Upcast {
        /// The event type.
        event_type: String,
        /// The version the upcaster lifts from.
        from_version: u32,
        /// Why it failed.
        reason: String,
    },

    /// A value could not be serialized (an event payload, a snapshot, metadata).
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A stored snapshot does not decode into the aggregate's state.
    #[error("corrupt snapshot of stream `{stream_id}` at version {stream_version}: {source}")]
    CorruptSnapshot {
        /// The stream.
        stream_id: String,
        /// The version the snapshot was taken at.
        stream_version: u64,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },

    /// The database failed; `retryable` tells whether trying again may succeed (a closed or
    /// unreachable database, a serialization failure) or not (bad SQL, a constraint).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("database error ({}): {source}", if *retryable { "retryable" } else { "not retryable" })]
    Database {
        /// Whether retrying may succeed.
        retryable: bool,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A schema migration failed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("migrating the event store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// Kafka failed.
    #[cfg(feature = "kafka")]
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),

    /// A subscription's handler failed; the subscription stopped before this event's position.
    #[error(
        "subscription `{subscription}` failed on `{event_type}` of stream `{stream_id}` at position {position}: {reason}"
    )]
    Handler {
        /// The subscription.
        subscription: String,
        /// The event's type.
        event_type: String,
        /// The event's stream.
        stream_id: String,
        /// The event's position.
        position: Position,
        /// What the handler said.
        reason: String,
    },

    /// A configuration value is missing or invalid.
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// The configuration key.
        key: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },

    /// Telemetry could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(String),
}

impl Error {
    /// Whether trying the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Error::Database { retryable, .. } => *retryable,
            #[cfg(feature = "kafka")]
            Error::Kafka(_) => true,
            _ => false,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for Error {
    fn from(source: sqlx::Error) -> Self {
        let retryable = match &source {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => true,
            // 40001 serialization failure, 40P01 deadlock, 57P01 admin shutdown, 08* connection.
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c == "40001" || c == "40P01" || c.starts_with("57P") || c.starts_with("08")
            }),
            _ => false,
        };
        Error::Database { retryable, source }
    }
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
