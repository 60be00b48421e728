//! `ROTATE_EVENT` (4): the next binlog file and position. mysql_common decodes it too, but the
//! artificial rotate a server sends first, before any format description, still carries its
//! CRC32, which mysql_common then reads as part of the file name. This decoder takes the
//! whole event (header included) and drops a trailing CRC32 that matches.
//!
//! Body: `position` u64, then the file name to the end (or to the checksum).

use super::{Cursor, EventError};

/// A decoded `ROTATE_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    /// The position in the next file.
    pub position: u64,
    /// The next file.
    pub file: String,
}

impl Rotate {
    /// Decodes an event from its 19-byte `header` and `body` (which may end in a CRC32).
    pub fn decode(header: &[u8; 19], body: &[u8]) -> Result<Self, EventError> {
        let mut c = Cursor::new("ROTATE_EVENT", body);
        let position = c.u64("position")?;
        let mut name = &body[8..];
        if name.len() > 4 {
            let (text, crc) = name.split_at(name.len() - 4);
            let mut h = crc32fast::Hasher::new();
            h.update(header);
            h.update(&body[..body.len() - 4]);
            if h.finalize() == u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
                name = text;
            }
        }
        let file = std::str::from_utf8(name)
            .map_err(|e| EventError {
                event: "ROTATE_EVENT",
                reason: format!("file name is not UTF-8: {e}"),
            })?
            .to_owned();
        Ok(Self { position, file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8; 19] = b"\0\0\0\0\x04\x01\0\0\0\x2f\0\0\0\0\0\0\0\x20\0";

    #[test]
    fn drops_a_matching_crc32() {
        // Artificial rotate to binlog.000001:4, with its CRC32.
        let body = b"\x04\0\0\0\0\0\0\0binlog.000001\x9a\xeb\xe2\x7d";
        let mut h = crc32fast::Hasher::new();
        h.update(HEADER);
        h.update(&body[..body.len() - 4]);
        assert_eq!(h.finalize().to_le_bytes(), [0x9a, 0xeb, 0xe2, 0x7d]);
        let r = Rotate::decode(HEADER, body).unwrap();
        assert_eq!((r.file.as_str(), r.position), ("binlog.000001", 4));
    }

    #[test]
    fn keeps_a_name_without_checksum() {
        let r = Rotate::decode(HEADER, b"\x04\0\0\0\0\0\0\0binlog.000002").unwrap();
        assert_eq!(r.file, "binlog.000002");
    }

    #[test]
    fn short_or_invalid_bodies_are_errors() {
        assert!(Rotate::decode(HEADER, b"\x04\0").is_err());
        assert!(Rotate::decode(HEADER, b"\x04\0\0\0\0\0\0\0\xff\xfe").is_err());
    }
}
