//! Decoders for MariaDB's own binlog events, which mysql_common does not know. One event type
//! per file, each decoding the event body (after the 19-byte header, without the checksum) and
//! returning an [`EventError`] on malformed bytes, never panicking.

mod annotate_rows;
mod binlog_checkpoint;
mod gtid;
mod gtid_list;
mod rotate;

pub use annotate_rows::AnnotateRows;
pub use binlog_checkpoint::BinlogCheckpoint;
pub use gtid::{FL_DDL, FL_GROUP_COMMIT_ID, FL_STANDALONE, FL_TRANSACTIONAL, Gtid, MariadbGtid};
pub use gtid_list::GtidList;
pub use rotate::Rotate;

/// `ROTATE_EVENT`.
pub const ROTATE: u8 = 4;
/// MariaDB's `ANNOTATE_ROWS_EVENT`.
pub const ANNOTATE_ROWS: u8 = 160;
/// MariaDB's `BINLOG_CHECKPOINT_EVENT`.
pub const BINLOG_CHECKPOINT: u8 = 161;
/// MariaDB's `GTID_EVENT`.
pub const MARIADB_GTID: u8 = 162;
/// MariaDB's `GTID_LIST_EVENT`.
pub const GTID_LIST: u8 = 163;

/// A MariaDB event body is shorter or otherwise different from its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {event}: {reason}")]
pub struct EventError {
    /// The event type name.
    pub event: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// The name of a binlog event type code, for messages (MySQL's and MariaDB's codes).
pub fn event_type_name(code: u8) -> &'static str {
    match code {
        2 => "QUERY_EVENT",
        4 => "ROTATE_EVENT",
        15 => "FORMAT_DESCRIPTION_EVENT",
        16 => "XID_EVENT",
        19 => "TABLE_MAP_EVENT",
        23 => "WRITE_ROWS_EVENT_V1",
        24 => "UPDATE_ROWS_EVENT_V1",
        25 => "DELETE_ROWS_EVENT_V1",
        30 => "WRITE_ROWS_EVENT",
        31 => "UPDATE_ROWS_EVENT",
        32 => "DELETE_ROWS_EVENT",
        39 => "PARTIAL_UPDATE_ROWS_EVENT",
        40 => "TRANSACTION_PAYLOAD_EVENT",
        160 => "ANNOTATE_ROWS_EVENT",
        161 => "BINLOG_CHECKPOINT_EVENT",
        162 => "GTID_EVENT",
        163 => "GTID_LIST_EVENT",
        164 => "START_ENCRYPTION_EVENT",
        165 => "QUERY_COMPRESSED_EVENT",
        166 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
        167 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
        168 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
        169 => "WRITE_ROWS_COMPRESSED_EVENT",
        170 => "UPDATE_ROWS_COMPRESSED_EVENT",
        171 => "DELETE_ROWS_COMPRESSED_EVENT",
        _ => "UNKNOWN_EVENT",
    }
}

/// Event types that carry rows we cannot decode: seeing one stops capture with an error.
pub fn is_undecodable_rows_event(code: u8) -> bool {
    matches!(code, 39 | 40 | 164..=171)
}

/// The 19-byte header of `event`, as it was on the wire.
pub fn header_bytes(event: &mysql_common::binlog::events::Event) -> [u8; 19] {
    let h = event.header();
    let mut out = [0u8; 19];
    out[..4].copy_from_slice(&h.timestamp().to_le_bytes());
    out[4] = h.event_type_raw();
    out[5..9].copy_from_slice(&h.server_id().to_le_bytes());
    out[9..13].copy_from_slice(&h.event_size().to_le_bytes());
    out[13..17].copy_from_slice(&h.log_pos().to_le_bytes());
    out[17..].copy_from_slice(&h.flags_raw().to_le_bytes());
    out
}

/// A little-endian cursor over an event body that fails instead of panicking.
pub(crate) struct Cursor<'a> {
    event: &'static str,
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(event: &'static str, buf: &'a [u8]) -> Self {
        Self { event, buf }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], EventError> {
        if self.buf.len() < n {
            return Err(EventError {
                event: self.event,
                reason: format!("{what}: needs {n} bytes, {} left", self.buf.len()),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, EventError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, EventError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, EventError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every decoder on every truncation of a valid body and on pseudo-random bytes: errors,
    /// never a panic.
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes() {
        let header = [0u8; 19];
        let valid: [&[u8]; 4] = [
            b"\x07\0\0\0\0\0\0\0\x02\0\0\0\x03\x09\0\0\0\0\0\0\0",
            b"\x01\0\0\0\0\0\0\0\x01\0\0\0\x0a\0\0\0\0\0\0\0",
            b"\x0e\0\0\0mysql-bin.0001",
            b"\x04\0\0\0\0\0\0\0binlog.000001\x9a\xeb\xe2\x7d",
        ];
        let mut inputs: Vec<Vec<u8>> = valid
            .iter()
            .flat_map(|v| (0..=v.len()).map(|n| v[..n].to_vec()))
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..2000usize {
            let bytes = (0..len % 97)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (seed >> 56) as u8
                })
                .collect();
            inputs.push(bytes);
        }
        let mut errors = 0;
        for input in &inputs {
            errors += usize::from(MariadbGtid::decode(input, 1).is_err());
            errors += usize::from(GtidList::decode(input).is_err());
            errors += usize::from(BinlogCheckpoint::decode(input).is_err());
            errors += usize::from(AnnotateRows::decode(input).is_err());
            errors += usize::from(Rotate::decode(&header, input).is_err());
        }
        assert!(errors > 0, "short inputs are reported as errors");
    }

    #[test]
    fn compressed_and_payload_events_are_refused_by_name() {
        for code in 165..=171 {
            assert!(is_undecodable_rows_event(code), "{code}");
            assert!(event_type_name(code).contains("COMPRESSED"), "{code}");
        }
        assert!(is_undecodable_rows_event(39) && is_undecodable_rows_event(40));
        assert!(!is_undecodable_rows_event(23) && !is_undecodable_rows_event(32));
    }
}
