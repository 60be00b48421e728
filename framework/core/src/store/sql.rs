//! What the SQL backends share: conversions between our unsigned counters and SQL's signed
//! integers, and decoding a stored event's JSON columns.

/// `v` as a SQL `BIGINT`, saturating at `i64::MAX`.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A SQL `BIGINT` as a counter; negative values (never written by us) read as 0.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A stored event's identity, for the error that names it when its stored JSON does not decode.
pub(crate) struct StoredEvent<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) schema_version: u32,
    pub(crate) stream_id: &'a str,
    pub(crate) stream_version: u64,
    pub(crate) position: crate::store::Position,
}

impl StoredEvent<'_> {
    /// Decodes one of the event's JSON columns (payload or metadata).
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(&self, text: &[u8]) -> crate::Result<T> {
        serde_json::from_slice(text).map_err(|source| crate::Error::CorruptPayload {
            event_type: self.event_type.to_owned(),
            schema_version: self.schema_version,
            stream_id: self.stream_id.to_owned(),
            stream_version: self.stream_version,
            position: self.position,
            source,
        })
    }
}
