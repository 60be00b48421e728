//! Encoding shared by the SQL backends: times as microseconds, bodies as JSON text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::instance::SagaInstance;
use crate::{Error, Result};

/// The table of applied saga migrations, apart from the core's `keel_migrations`.
pub(crate) const MIGRATIONS_TABLE: &str = "keel_saga_migrations";

/// States whose instances still have work to do, as stored.
pub(crate) const ACTIVE: [&str; 2] = ["running", "compensating"];

pub(crate) fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn encode(what: &str, value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::serialize(what, e))
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::serialize(what, e))
}

/// An instance from its stored body; the `version` column is authoritative.
pub(crate) fn instance(body: &str, version: i64) -> Result<SagaInstance> {
    let mut instance: SagaInstance = decode("a stored saga instance", body)?;
    instance.version = u64::try_from(version).unwrap_or(0);
    Ok(instance)
}

pub(crate) fn usize_to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
