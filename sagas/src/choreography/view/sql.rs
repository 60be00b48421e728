//! What the SQL backends of the saga view share: the migrations' table, the body's encoding
//! and the query's parameters.

use chrono::{DateTime, Utc};

use super::{ChoreographyState, ChoreographyStatus, StatusQuery};
use crate::{Error, Result};

/// The table of applied view migrations, apart from the core's and the saga store's.
pub(super) const MIGRATIONS_TABLE: &str = "keel_choreography_migrations";

/// The status as stored in `body`.
pub(super) fn encode(status: &ChoreographyStatus) -> Result<String> {
    serde_json::to_string(status).map_err(|e| Error::serialize("a choreography status", e))
}

/// A status from its stored `body`.
pub(super) fn decode(body: &str) -> Result<ChoreographyStatus> {
    serde_json::from_str(body).map_err(|e| Error::serialize("a stored choreography status", e))
}

/// The `awaiting` column: the first step waited for.
pub(super) fn awaiting(status: &ChoreographyStatus) -> Option<&str> {
    status.awaiting.first().map(String::as_str)
}

/// The states asked for, by name (`None`: every state).
pub(super) fn states(query: &StatusQuery) -> Option<Vec<String>> {
    (!query.states.is_empty()).then(|| query.states.iter().map(|s| s.as_str().to_owned()).collect())
}

/// The `updated_at` instances must be older than (`None`: any).
pub(super) fn cutoff(query: &StatusQuery) -> Option<DateTime<Utc>> {
    query.cutoff(Utc::now())
}

/// `LIMIT`'s value.
pub(super) fn limit(query: &StatusQuery) -> i64 {
    i64::try_from(query.limit).unwrap_or(i64::MAX)
}

/// A `(state, count)` row.
pub(super) fn count(choreography: &str, state: &str, n: i64) -> Result<(ChoreographyState, u64)> {
    let state = ChoreographyState::parse(state).ok_or_else(|| Error::InvalidChoreography {
        choreography: choreography.to_owned(),
        reason: format!("the view's table holds an unknown state `{state}`"),
    })?;
    Ok((state, u64::try_from(n).unwrap_or(0)))
}
