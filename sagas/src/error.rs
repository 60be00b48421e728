//! The one error type of `keel-sagas`.

/// Everything that can go wrong in `keel-sagas`.
///
/// A participant's business failure (out of stock, card declined) is not here: it is a
/// [`ReplyOutcome::Failure`](crate::ReplyOutcome::Failure) that drives compensation. This enum
/// holds misuse ([`Error::UnknownSagaType`], [`Error::SagaExists`], [`Error::InvalidDefinition`]),
/// optimistic-concurrency conflicts ([`Error::Conflict`]) and infrastructure failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No saga definition with this type is registered with the coordinator.
    #[error("unknown saga type `{saga_type}`")]
    UnknownSagaType {
        /// The type asked for.
        saga_type: String,
    },

    /// A saga instance with this type and id already exists.
    #[error("saga `{saga_type}` `{saga_id}` already exists")]
    SagaExists {
        /// The saga type.
        saga_type: String,
        /// The saga id.
        saga_id: String,
    },

    /// A saga definition is not usable (no steps, duplicate step names, zero attempts...).
    #[error("invalid saga definition `{saga_type}`: {reason}")]
    InvalidDefinition {
        /// The saga type.
        saga_type: String,
        /// What is wrong.
        reason: String,
    },

    /// A choreography's steps do not fit together (no start, a step reacting to an event no
    /// step emits, an event type with two meanings...).
    #[error("invalid choreography `{choreography}`: {reason}")]
    InvalidChoreography {
        /// The choreography.
        choreography: String,
        /// What is wrong.
        reason: String,
    },

    /// The stored instance was not at the version the update expected: another coordinator
    /// (or task) changed it first. Reload and decide again.
    #[error("concurrency conflict on saga `{saga_type}` `{saga_id}`: expected version {expected}")]
    Conflict {
        /// The saga type.
        saga_type: String,
        /// The saga id.
        saga_id: String,
        /// The version the update expected to replace.
        expected: u64,
    },

    /// A command could not be handed to the transport.
    #[error("transport failed to send to participant `{participant}`: {reason}")]
    Transport {
        /// The participant addressed.
        participant: String,
        /// What the transport said.
        reason: String,
    },

    /// A stored saga instance or message does not decode, or a value does not encode.
    #[error("cannot (de)serialize {what}: {source}")]
    Serialize {
        /// What was being (de)serialized.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// A database error.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the saga tables' migrations failed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("saga migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A Kafka client error (producer creation, delivery).
    #[cfg(feature = "kafka")]
    #[error("Kafka error: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),

    /// An error of keel-core (e.g. the Kafka consumer helper's configuration or dead letters).
    #[error(transparent)]
    Core(#[from] keel_core::Error),

    /// A participant's handler failed for an infrastructure reason; the command is not recorded
    /// in the inbox and no reply is sent, so a re-delivery runs it again.
    #[error("participant `{participant}` failed to handle a command: {reason}")]
    Handler {
        /// The participant.
        participant: String,
        /// What went wrong.
        reason: String,
    },

    /// A group of saga store operations failed together (e.g. the connection broke while
    /// reading them, or their transaction did not commit); each operation of the group gets
    /// this error.
    #[error("saga store: {reason}")]
    Store {
        /// What went wrong.
        reason: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
}

impl Error {
    /// Whether retrying the same operation may succeed (conflicts, transport and database
    /// connectivity problems).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict { .. } | Error::Transport { .. } | Error::Handler { .. } => true,
            Error::Core(e) => e.is_retryable(),
            Error::Store { retryable, .. } => *retryable,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Error::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|code| server_says_retry(&code))
            }
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Error::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            _ => false,
        }
    }

    /// A [`Error::Store`] carrying `error`'s reason and retryability, for every operation of
    /// a group that failed together.
    #[cfg(feature = "postgres")]
    pub(crate) fn shared(error: &Error) -> Self {
        Error::Store {
            reason: error.to_string(),
            retryable: error.is_retryable(),
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn serialize(what: &str, source: serde_json::Error) -> Self {
        Error::Serialize {
            what: what.to_owned(),
            source,
        }
    }
}

/// SQLSTATE codes after which the same statement may succeed: connection exceptions (`08`),
/// the server going down or dropping the session (`57P`), serialization failures and
/// deadlocks (`40001`, `40P01`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn server_says_retry(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code == "40001" || code == "40P01"
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
