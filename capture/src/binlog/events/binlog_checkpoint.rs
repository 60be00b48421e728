//! MariaDB `BINLOG_CHECKPOINT_EVENT` (161): names the oldest binlog file still needed for
//! crash recovery. Body: `file_len` u32, then the file name.

use super::{Cursor, EventError};

/// A decoded `BINLOG_CHECKPOINT_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogCheckpoint {
    /// The binlog file name.
    pub file: String,
}

impl BinlogCheckpoint {
    /// Decodes the body.
    pub fn decode(body: &[u8]) -> Result<Self, EventError> {
        let mut c = Cursor::new("BINLOG_CHECKPOINT_EVENT", body);
        let len = c.u32("file_len")? as usize;
        let name = c.take(len, "file name")?;
        let file = std::str::from_utf8(name)
            .map_err(|error| EventError {
                event: "BINLOG_CHECKPOINT_EVENT",
                reason: format!("file name is not UTF-8: {error}"),
            })?
            .to_owned();
        Ok(Self { file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_file_name() {
        let e = BinlogCheckpoint::decode(b"\x0e\0\0\0mysql-bin.0001").unwrap();
        assert_eq!(e.file, "mysql-bin.0001");
    }

    #[test]
    fn truncated_name_is_an_error() {
        let err = BinlogCheckpoint::decode(b"\x20\0\0\0mysql").unwrap_err();
        assert!(err.reason.contains("file name"), "{err}");
        assert!(BinlogCheckpoint::decode(b"\xff\xfe\0").is_err());
        assert!(BinlogCheckpoint::decode(b"\x02\0\0\0\xff\xfe").is_err());
    }
}
