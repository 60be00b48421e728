//! Conversions between our unsigned counters and SQL's signed integers.

/// `v` as a SQL `BIGINT`, saturating at `i64::MAX`.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A SQL `BIGINT` as a counter; negative values (never written by us) read as 0.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
