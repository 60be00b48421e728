//! Timestamps as every backend stores them: UTC, microsecond precision.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds (what PostgreSQL stores), so that what an append returns
/// equals what a read returns on every backend.
pub(crate) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `at` truncated to microseconds, the precision every backend stores.
pub(crate) fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Microseconds since the Unix epoch.
#[cfg(feature = "sqlite")]
pub(crate) fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The time `micros` microseconds after the Unix epoch (the epoch itself if out of range).
#[cfg(feature = "sqlite")]
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
