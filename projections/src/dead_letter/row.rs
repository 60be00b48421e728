//! What the SQL backends store per column, and their errors.

use chrono::{DateTime, Utc};

use super::DeadLetterStage;
use crate::Error;

/// The table of applied migrations of this crate, apart from the core's `keel_migrations`.
pub(crate) const MIGRATIONS_TABLE: &str = "keel_projection_migrations";

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// The stage from its columns (`sink` holds a source record's origin).
pub(crate) fn stage(stage: &str, sink: String, key: Option<String>) -> DeadLetterStage {
    match (stage, key) {
        ("sink", Some(key)) => DeadLetterStage::Sink { sink, key },
        ("sink", None) => DeadLetterStage::Sink {
            sink,
            key: String::new(),
        },
        ("source", _) => DeadLetterStage::Source { origin: sink },
        _ => DeadLetterStage::Decode,
    }
}

/// A database failure: retryable when the connection failed or timed out.
pub(crate) fn sql_error(destination: &'static str, error: sqlx::Error) -> Error {
    let retryable = matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)
    );
    Error::DeadLetters {
        destination,
        reason: error.to_string(),
        retryable,
    }
}

/// A stored row that does not read back (a column edited by hand).
pub(crate) fn bad_row(
    destination: &'static str,
    what: &str,
    error: impl std::fmt::Display,
) -> Error {
    Error::DeadLetters {
        destination,
        reason: format!("stored {what} does not read back: {error}"),
        retryable: false,
    }
}
