//! CRC32 verification of binlog events. mysql_common reads the checksum off each event but
//! does not compare it, so we do: a mismatch stops capture.

use mysql_common::binlog::consts::BinlogChecksumAlg;
use mysql_common::binlog::events::Event;

use crate::{Error, Result};

/// Verifies `event`'s CRC32 when its format description says events carry one.
pub fn verify(event: &Event, file: &str) -> Result<()> {
    if let Some((stored, computed)) = mismatch(event) {
        let header = event.header();
        return Err(Error::Checksum {
            type_code: header.event_type_raw(),
            file: file.to_owned(),
            pos: u64::from(header.log_pos().saturating_sub(header.event_size())),
            stored,
            computed,
        });
    }
    Ok(())
}

/// The stored and the computed CRC32 of `event` when they differ (`None` when they match or
/// events carry none).
pub fn mismatch(event: &Event) -> Option<(u32, u32)> {
    let Ok(Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32)) = event.footer().get_checksum_alg()
    else {
        return None;
    };
    let stored = u32::from_le_bytes(event.checksum()?);
    let computed = event.calc_checksum(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32);
    (stored != computed).then_some((stored, computed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::binlog::consts::BinlogVersion;
    use mysql_common::binlog::events::{BinlogEventFooter, FormatDescriptionEvent};

    /// An XID event (xid 77, end position 1000) with its CRC32.
    const XID: &[u8] = b"\x00\xf1\x53\x65\x10\x01\x00\x00\x00\x1f\x00\x00\x00\xe8\x03\x00\x00\x00\x00\x4d\x00\x00\x00\x00\x00\x00\x00\x49\x9a\x22\x55";

    fn read(bytes: &[u8]) -> Event {
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4).with_footer(
            BinlogEventFooter::new(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32),
        );
        Event::read(&fde, bytes).unwrap()
    }

    #[test]
    fn a_correct_checksum_passes() {
        verify(&read(XID), "bin.000001").unwrap();
    }

    #[test]
    fn a_flipped_bit_is_caught() {
        let mut bad = XID.to_vec();
        bad[19] ^= 1;
        let err = verify(&read(&bad), "bin.000001").unwrap_err().to_string();
        assert!(
            err.contains("CRC32 mismatch for event type 16 at bin.000001:969"),
            "{err}"
        );
        assert!(err.contains("0x55229a49"), "{err}");
    }
}
