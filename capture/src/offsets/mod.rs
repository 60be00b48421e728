//! Where capture resumes: a binlog position plus how many records of the event group starting
//! there Kafka already acknowledged. Stored durably in a file (the embedded default), a
//! compacted Kafka topic or a PostgreSQL table (ADR 0042); see [`OffsetStore`].

mod file;
mod kafka;
mod postgres;
mod store;

use serde::{Deserialize, Serialize};

pub use file::FileOffsetStore;
pub use kafka::{KafkaOffsetStore, KafkaStoreSpec};
pub use postgres::PostgresOffsetStore;
pub use store::OffsetStore;
pub(crate) use store::client_properties;

/// A resume point.
///
/// `pos` is the start of an event group (its GTID event) in `file`; `skip` counts the records
/// of that group already delivered. After a group completes, `pos` is the position after it and
/// `skip` is 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offset {
    /// The binlog file.
    pub file: String,
    /// The position in it.
    pub pos: u64,
    /// Records of the group at `pos` already acknowledged.
    #[serde(default)]
    pub skip: u64,
    /// The GTID of the group at `pos` when it is partly delivered (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// The server's GTID position at `pos` (`domain-server-seq` per domain, comma-separated):
    /// what `@slave_connect_state` needs to resume at the group at `pos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid_position: Option<String>,
    /// An initial snapshot in progress: `file`, `pos` and `gtid_position` are then its cut,
    /// where streaming starts once the snapshot is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
}

/// How far an initial snapshot got: the tables done and, in the table being read, the primary
/// key of the last row Kafka acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotProgress {
    /// Tables (`db.table`) read completely.
    #[serde(default)]
    pub tables_done: Vec<String>,
    /// The table being read (`db.table`), if one is started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The primary key of its last acknowledged row, in key order; `None` for a table without
    /// a primary key (read again from its start on resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<Vec<KeyPart>>,
    /// Snapshot rows acknowledged so far (informational).
    #[serde(default)]
    pub rows: u64,
}

/// One primary-key column value of a snapshot cursor, as the server compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    /// A signed integer (also ENUM indexes, SET and BIT values).
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A decimal, date, time or floating-point value in the server's text form.
    Text(String),
    /// The stored bytes of a character or binary column, hex-encoded.
    Hex(String),
}

impl Offset {
    /// The start of an event group, nothing of it delivered.
    pub fn at(file: impl Into<String>, pos: u64) -> Self {
        Self {
            file: file.into(),
            pos,
            skip: 0,
            gtid: None,
            gtid_position: None,
            snapshot: None,
        }
    }

    /// Whether this offset is at or past `(file, pos)` with nothing of a group pending
    /// (binlog files compare by their numeric suffix).
    pub fn reached(&self, file: &str, pos: u64) -> bool {
        match file_seq(&self.file).cmp(&file_seq(file)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.pos >= pos && self.skip == 0,
        }
    }
}

/// How a restarted capture asks the server for the binlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResumeBy {
    /// `COM_BINLOG_DUMP` at the stored file and position (default).
    #[default]
    Position,
    /// MariaDB GTIDs: `SET @slave_connect_state` to the stored GTID position, which survives
    /// binlog file renames and failover to a replica with the same GTIDs.
    Gtid,
}

/// Parses a GTID position (`0-1-5,1-2-3`) into one GTID per domain.
pub fn parse_gtid_position(
    text: &str,
) -> Option<std::collections::BTreeMap<u32, crate::binlog::events::Gtid>> {
    let mut out = std::collections::BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split('-');
        let gtid = crate::binlog::events::Gtid {
            domain_id: it.next()?.parse().ok()?,
            server_id: it.next()?.parse().ok()?,
            seq_no: it.next()?.parse().ok()?,
        };
        if it.next().is_some() {
            return None;
        }
        out.insert(gtid.domain_id, gtid);
    }
    Some(out)
}

/// Formats one GTID per domain as a GTID position.
pub fn format_gtid_position(
    gtids: &std::collections::BTreeMap<u32, crate::binlog::events::Gtid>,
) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(24 * gtids.len());
    for (i, gtid) in gtids.values().enumerate() {
        if i > 0 {
            text.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "{gtid}");
    }
    text
}

/// The numeric suffix of a binlog file name (`mysql-bin.000012` → 12).
pub fn file_seq(file: &str) -> u64 {
    file.rsplit('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_positions_round_trip() {
        let p = parse_gtid_position("0-1-5,1-2-3").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(format_gtid_position(&p), "0-1-5,1-2-3");
        assert_eq!(parse_gtid_position("").unwrap().len(), 0);
        assert!(parse_gtid_position("0-1").is_none());
        assert!(parse_gtid_position("0-1-2-3").is_none());
        assert!(parse_gtid_position("a-1-2").is_none());
    }

    #[test]
    fn reached_compares_files_by_sequence() {
        assert!(Offset::at("b.000002", 4).reached("b.000001", 900));
        assert!(!Offset::at("b.000001", 899).reached("b.000001", 900));
        assert!(Offset::at("b.000001", 900).reached("b.000001", 900));
        let mut mid = Offset::at("b.000001", 900);
        mid.skip = 1;
        assert!(!mid.reached("b.000001", 900));
    }
}
