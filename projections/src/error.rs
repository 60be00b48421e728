//! The one error type of `keel-projections`.

use keel_core::Position;

/// Everything that can go wrong while projecting.
///
/// [`Error::is_retryable`] tells the runner whether waiting and writing the same batch again may
/// help (a sink that is down) or not (a mapping conflict, an event that does not decode).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event store or the checkpoint store failed.
    #[error("event store: {0}")]
    Store(#[from] keel_core::Error),

    /// A stored event did not decode into the projection's event type.
    #[error(
        "projection `{projection}` cannot decode event `{event_type}` of stream `{stream_id}` at position {position}: {reason}"
    )]
    Decode {
        /// The projection.
        projection: String,
        /// The stored type name.
        event_type: String,
        /// The stream it belongs to.
        stream_id: String,
        /// Its global position.
        position: Position,
        /// What the decoder said.
        reason: String,
    },

    /// A document did not (de)serialize.
    #[error("document `{key}` of projection `{projection}`: {source}")]
    Document {
        /// The projection.
        projection: String,
        /// The document's key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },

    /// A sink could not be reached or did not acknowledge a write; retrying may help.
    #[error("sink `{sink}` unavailable: {reason}")]
    Unavailable {
        /// The sink (`redis`, `elasticsearch`, ...).
        sink: &'static str,
        /// What failed.
        reason: String,
    },

    /// A sink refused a request in a way retrying will not fix.
    #[error("sink `{sink}` refused the request: {reason}")]
    Refused {
        /// The sink.
        sink: &'static str,
        /// The server's reason.
        reason: String,
    },

    /// An Elasticsearch index exists with a field mapped to another type than the projection's.
    #[error(
        "mapping conflict in index `{index}` on field `{field}`: the projection maps it as `{expected}`, the index has `{actual}`"
    )]
    MappingConflict {
        /// The index.
        index: String,
        /// The field, dotted for nested objects.
        field: String,
        /// The type the projection declares.
        expected: String,
        /// The type the index has.
        actual: String,
    },

    /// A configuration value is invalid (found when the component is built).
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A record read from a Kafka topic is not a `RecordedEvent`.
    #[error(
        "projection `{projection}` read a record at `{origin}` that is not a Keel event: {reason}"
    )]
    NotAnEvent {
        /// The projection.
        projection: String,
        /// Where the record was: `<topic>/<partition>/<offset>`.
        origin: String,
        /// Why it does not decode.
        reason: String,
    },

    /// The Kafka client failed (configuration, subscription, commit).
    #[error("kafka: {reason}")]
    Kafka {
        /// What the client said.
        reason: String,
    },

    /// The dead-letter destination failed.
    #[error("dead-letter destination `{destination}`: {reason}")]
    DeadLetters {
        /// The destination (`sqlite`, `postgres`, ...).
        destination: &'static str,
        /// What failed.
        reason: String,
        /// Whether putting the letters again later may succeed.
        retryable: bool,
    },

    /// The sink still failed after the configured number of retries.
    #[error("projection `{projection}` gave up after {attempts} attempts: {source}")]
    RetriesExhausted {
        /// The projection.
        projection: String,
        /// How many writes were tried.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Whether writing the same batch again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Store(e) => e.is_retryable(),
            Self::DeadLetters { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
