//! MariaDB `GTID_EVENT` (162): starts every event group (transaction or DDL).
//!
//! Body: `seq_no` u64, `domain_id` u32, `flags2` u8, then `commit_id` u64 when
//! `FL_GROUP_COMMIT_ID` is set (XA fields may follow; they are not needed here).

use std::fmt;

use super::{Cursor, EventError};

/// The group is a single statement without BEGIN/COMMIT (e.g. DDL).
pub const FL_STANDALONE: u8 = 1;
/// A group commit id follows the flags.
pub const FL_GROUP_COMMIT_ID: u8 = 2;
/// The group is transactional.
pub const FL_TRANSACTIONAL: u8 = 4;
/// The group is DDL.
pub const FL_DDL: u8 = 32;

/// A MariaDB GTID: `domain-server-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtid {
    /// Replication domain.
    pub domain_id: u32,
    /// Originating server.
    pub server_id: u32,
    /// Sequence number within the domain.
    pub seq_no: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

/// A decoded `GTID_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariadbGtid {
    /// The group's GTID (the server id comes from the event header).
    pub gtid: Gtid,
    /// `flags2`.
    pub flags: u8,
    /// The group commit id, when present.
    pub commit_id: Option<u64>,
}

impl MariadbGtid {
    /// Decodes the body; `server_id` is the event header's.
    pub fn decode(body: &[u8], server_id: u32) -> Result<Self, EventError> {
        let mut c = Cursor::new("GTID_EVENT", body);
        let seq_no = c.u64("seq_no")?;
        let domain_id = c.u32("domain_id")?;
        let flags = c.u8("flags2")?;
        let commit_id = if flags & FL_GROUP_COMMIT_ID != 0 {
            Some(c.u64("commit_id")?)
        } else {
            None
        };
        Ok(Self {
            gtid: Gtid {
                domain_id,
                server_id,
                seq_no,
            },
            flags,
            commit_id,
        })
    }

    /// A group of one statement with no COMMIT event after it (DDL, non-transactional).
    pub fn is_standalone(&self) -> bool {
        self.flags & FL_STANDALONE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_transactional_gtid() {
        // seq_no 42, domain 0, flags2 = TRANSACTIONAL|ALLOW_PARALLEL, then 6 reserved bytes.
        let body = b"\x2a\0\0\0\0\0\0\0\0\0\0\0\x0c\0\0\0\0\0\0";
        let e = MariadbGtid::decode(body, 1).unwrap();
        assert_eq!(e.gtid.to_string(), "0-1-42");
        assert_eq!(e.flags, 0x0c);
        assert!(!e.is_standalone());
        assert_eq!(e.commit_id, None);
    }

    #[test]
    fn decodes_a_group_commit_id_and_standalone_flag() {
        let body = b"\x07\0\0\0\0\0\0\0\x02\0\0\0\x03\x09\0\0\0\0\0\0\0";
        let e = MariadbGtid::decode(body, 5).unwrap();
        assert_eq!(e.gtid.to_string(), "2-5-7");
        assert!(e.is_standalone());
        assert_eq!(e.commit_id, Some(9));
    }

    #[test]
    fn short_body_is_an_error() {
        let err = MariadbGtid::decode(b"\x01\0\0", 1).unwrap_err();
        assert!(err.reason.contains("seq_no"), "{err}");
        let err = MariadbGtid::decode(b"\x07\0\0\0\0\0\0\0\x02\0\0\0\x02\x09", 1).unwrap_err();
        assert!(err.reason.contains("commit_id"), "{err}");
    }
}
