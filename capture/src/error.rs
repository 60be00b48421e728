//! The one error type of `keel-capture`.

/// Everything that can go wrong in `keel-capture`. Each variant names where it happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration key has a value we do not accept.
    #[error("invalid value {value:?} for `{key}`: accepts {accepts}")]
    Config {
        /// The Debezium property name.
        key: String,
        /// The value given.
        value: String,
        /// What the key accepts.
        accepts: String,
    },

    /// A required configuration key is missing.
    #[error("missing configuration key `{key}`: {hint}")]
    MissingKey {
        /// The Debezium property name.
        key: String,
        /// What to put there.
        hint: String,
    },

    /// The configuration file could not be read or is not connector JSON.
    #[error("cannot read connector configuration {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },

    /// A server variable has a value capture cannot work with.
    #[error("server variable `{variable}` is {actual:?}; capture needs {needed}")]
    ServerVariable {
        /// The variable, e.g. `binlog_format`.
        variable: String,
        /// Its value on the server.
        actual: String,
        /// What it must be.
        needed: String,
    },

    /// The connecting user lacks privileges.
    #[error("user {user} lacks the privileges {}; grant them with GRANT {} ON *.* TO {user}", missing.join(", "), missing.join(", "))]
    MissingGrants {
        /// The user as the server names it.
        user: String,
        /// The missing privileges.
        missing: Vec<String>,
    },

    /// MariaDB client error.
    #[error("MariaDB: {0}")]
    Mysql(#[from] mysql_async::Error),

    /// Kafka client error.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),

    /// A binlog event's bytes are malformed.
    #[error("cannot decode binlog event {event} at {file}:{pos}: {reason}")]
    Decode {
        /// The event type name.
        event: String,
        /// The binlog file.
        file: String,
        /// The event's position.
        pos: u64,
        /// Why.
        reason: String,
    },

    /// A binlog event type capture cannot decode; never skipped silently.
    #[error("unsupported binlog event {name} (type {type_code}) at {file}:{pos}: {hint}")]
    UnsupportedEvent {
        /// The event type name.
        name: String,
        /// The raw type code.
        type_code: u8,
        /// The binlog file.
        file: String,
        /// The event's position.
        pos: u64,
        /// What to do about it.
        hint: String,
    },

    /// A binlog event failed its CRC32 check.
    #[error(
        "CRC32 mismatch for event type {type_code} at {file}:{pos}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Checksum {
        /// The raw type code.
        type_code: u8,
        /// The binlog file.
        file: String,
        /// The event's position.
        pos: u64,
        /// The checksum in the event.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },

    /// A column value could not be mapped.
    #[error("cannot map column `{column}` of `{table}`: {reason}")]
    Mapping {
        /// `db.table`.
        table: String,
        /// The column name.
        column: String,
        /// Why.
        reason: String,
    },

    /// Reading or writing the stored offsets failed.
    #[error("offset store ({store}): {reason}")]
    Offsets {
        /// The store: its file, topic or table.
        store: String,
        /// Why.
        reason: String,
    },

    /// Reading or writing the schema history failed.
    #[error("schema history ({store}): {reason}")]
    History {
        /// The store: its file or topic.
        store: String,
        /// Why.
        reason: String,
    },

    /// The server no longer has the binlog position capture would resume from.
    #[error(
        "the server cannot send the binlog from {file}:{pos} ({reason}): the file was purged or \
         never existed. Delete the stored offsets ({offsets}) to start over (at the current binlog end, \
         or with a snapshot), set snapshot.mode=when_needed to take a new snapshot, or restore \
         the binlog; rows changed in between are not captured otherwise"
    )]
    PositionUnavailable {
        /// The binlog file asked for.
        file: String,
        /// The position asked for.
        pos: u64,
        /// The server's message.
        reason: String,
        /// The offset store (file, topic or table).
        offsets: String,
    },

    /// The initial snapshot of a table failed.
    #[error("snapshot of `{table}`: {reason}")]
    Snapshot {
        /// `db.table`, or `*` for the snapshot as a whole.
        table: String,
        /// Why.
        reason: String,
    },

    /// A transform failed on a record.
    #[error("transform `{alias}` failed on a record of `{table}` at {file}:{pos}: {reason}")]
    Transform {
        /// The transform's alias in `transforms`.
        alias: String,
        /// `db.table`, or the topic for records that are not change events.
        table: String,
        /// The binlog file.
        file: String,
        /// The event's position.
        pos: u64,
        /// Why.
        reason: String,
    },

    /// A row that could not be captured, with where it is in the binlog.
    #[error(
        "{source} (binlog {file}:{pos}, row {row}; errors.tolerance=all sends such rows to the dead-letter topic instead)"
    )]
    Row {
        /// The binlog file.
        file: String,
        /// The rows event's position.
        pos: u64,
        /// The row's index in the event.
        row: u32,
        /// What went wrong.
        source: Box<Error>,
    },

    /// The in-process consumer closed its [`ChangeStream`](crate::ChangeStream) (a clean stop,
    /// not returned by [`Capture::run`](crate::Capture::run)).
    #[error("the change stream was closed")]
    Closed,

    /// A task of capture (the acknowledgement tracker, the run behind a change stream) ended
    /// abnormally.
    #[error("a capture task failed: {0}")]
    Task(String),

    /// A pure decoding error from one of our event decoders.
    #[error("{0}")]
    Event(#[from] crate::binlog::events::EventError),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Config`] for `key`.
    pub(crate) fn config(key: &str, value: impl Into<String>, accepts: impl Into<String>) -> Self {
        Error::Config {
            key: key.to_owned(),
            value: value.into(),
            accepts: accepts.into(),
        }
    }
}
