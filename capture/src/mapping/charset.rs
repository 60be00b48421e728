//! Character column bytes to text, by MariaDB collation id.

/// The `binary` pseudo-charset: BINARY, VARBINARY and BLOB columns.
pub(crate) const BINARY: u16 = 63;

/// Decodes `bytes` in the charset of collation `id`. `None` when the collation's charset is
/// one we do not decode (the caller reports the column) or the bytes are invalid in it.
pub(crate) fn decode(id: u16, bytes: &[u8]) -> Option<String> {
    match id {
        // latin1 (MariaDB's latin1 is Windows-1252).
        5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => Some(bytes.iter().map(|&b| cp1252(b)).collect()),
        // ascii.
        11 | 65 => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        // utf8mb3 and utf8mb4 collations (incl. MariaDB's uca1400 ids), and 0 when the server
        // sent no charset metadata: UTF-8 when valid.
        0
        | 33
        | 45
        | 46
        | 76
        | 83
        | 192..=215
        | 223..=247
        | 255..=309
        | 576..=578
        | 608..=610
        | 1024..=4095 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        _ => None,
    }
}

/// Windows-1252, byte to char.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}',
        '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}',
        '\u{178}',
    ];
    if (0x80..0xa0).contains(&b) {
        HIGH[usize::from(b - 0x80)]
    } else {
        char::from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_latin1_and_ascii() {
        assert_eq!(decode(45, "grüße".as_bytes()).as_deref(), Some("grüße"));
        assert_eq!(decode(8, b"gr\xfc\xdfe \x80").as_deref(), Some("grüße €"));
        assert_eq!(decode(11, b"abc").as_deref(), Some("abc"));
        assert_eq!(decode(11, b"\xff"), None);
        assert_eq!(decode(45, b"\xff"), None);
        assert_eq!(decode(28, b"gbk"), None);
    }
}
