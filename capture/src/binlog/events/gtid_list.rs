//! MariaDB `GTID_LIST_EVENT` (163): at the start of each binlog file, the last GTID of every
//! domain written before it.
//!
//! Body: `count` u32 (low 28 bits; the high 4 bits are flags), then `count` times
//! `domain_id` u32, `server_id` u32, `seq_no` u64.

use super::{Cursor, EventError, Gtid};

/// A decoded `GTID_LIST_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidList {
    /// The flags in the high 4 bits of the count.
    pub flags: u8,
    /// One GTID per domain.
    pub gtids: Vec<Gtid>,
}

impl GtidList {
    /// Decodes the body.
    pub fn decode(body: &[u8]) -> Result<Self, EventError> {
        let mut c = Cursor::new("GTID_LIST_EVENT", body);
        let raw = c.u32("count")?;
        let count = (raw & 0x0fff_ffff) as usize;
        let flags = (raw >> 28) as u8;
        if body.len().saturating_sub(4) / 16 < count {
            return Err(EventError {
                event: "GTID_LIST_EVENT",
                reason: format!("count {count} exceeds the body of {} bytes", body.len()),
            });
        }
        let mut gtids = Vec::with_capacity(count);
        for _ in 0..count {
            let domain_id = c.u32("domain_id")?;
            let server_id = c.u32("server_id")?;
            let seq_no = c.u64("seq_no")?;
            gtids.push(Gtid {
                domain_id,
                server_id,
                seq_no,
            });
        }
        Ok(Self { flags, gtids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_two_domains() {
        let body =
            b"\x02\0\0\0\0\0\0\0\x01\0\0\0\x0a\0\0\0\0\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\0\0\0\0";
        let e = GtidList::decode(body).unwrap();
        let s: Vec<String> = e.gtids.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["0-1-10", "1-2-3"]);
        assert_eq!(e.flags, 0);
    }

    #[test]
    fn empty_list() {
        assert_eq!(GtidList::decode(b"\0\0\0\0").unwrap().gtids, []);
    }

    #[test]
    fn count_beyond_the_body_is_an_error() {
        let err = GtidList::decode(b"\xff\xff\xff\x0f\0\0").unwrap_err();
        assert!(err.reason.contains("exceeds"), "{err}");
        assert!(GtidList::decode(b"\x01").is_err());
    }
}
