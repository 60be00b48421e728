//! DECIMAL values: Kafka Connect's `Decimal` is the unscaled value as big-endian two's
//! complement bytes (Java's `BigInteger.toByteArray`), base64 in JSON.

/// Splits a decimal string (`-123.45`) into its unscaled digits at `scale` and its sign; pads
/// or refuses extra fraction digits. `None` when the text is not a decimal.
fn unscaled_digits(text: &str, scale: usize) -> Option<(bool, Vec<u8>)> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if frac.len() > scale || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    digits.extend(std::iter::repeat_n(0, scale - frac.len()));
    Some((negative, digits))
}

/// The unscaled value of `text` at `scale` as Java's `BigInteger.toByteArray` writes it.
pub(crate) fn unscaled_bytes(text: &str, scale: usize) -> Option<Vec<u8>> {
    let (negative, digits) = unscaled_digits(text, scale)?;
    // Big-endian magnitude, built by multiply-and-add.
    let mut mag: Vec<u8> = Vec::new();
    for d in digits {
        let mut carry = u32::from(d);
        for byte in mag.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    while mag.first() == Some(&0) {
        mag.remove(0);
    }
    if mag.is_empty() {
        return Some(vec![0]);
    }
    if !negative {
        if mag[0] & 0x80 != 0 {
            mag.insert(0, 0);
        }
        return Some(mag);
    }
    // Two's complement: invert, add one.
    let mut out: Vec<u8> = mag.iter().map(|b| !b).collect();
    for byte in out.iter_mut().rev() {
        let (v, overflow) = byte.overflowing_add(1);
        *byte = v;
        if !overflow {
            break;
        }
    }
    if out[0] & 0x80 == 0 {
        out.insert(0, 0xff);
    }
    while out.len() > 1 && out[0] == 0xff && out[1] & 0x80 != 0 {
        out.remove(0);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_big_integer_to_byte_array() {
        assert_eq!(unscaled_bytes("12.50", 2), Some(vec![0x04, 0xe2]));
        assert_eq!(unscaled_bytes("12.5", 2), Some(vec![0x04, 0xe2]));
        assert_eq!(unscaled_bytes("0.00", 2), Some(vec![0]));
        assert_eq!(unscaled_bytes("1.28", 2), Some(vec![0x00, 0x80]));
        assert_eq!(unscaled_bytes("-1", 0), Some(vec![0xff]));
        assert_eq!(unscaled_bytes("-128", 0), Some(vec![0x80]));
        assert_eq!(unscaled_bytes("-129", 0), Some(vec![0xff, 0x7f]));
        assert_eq!(unscaled_bytes("-256", 0), Some(vec![0xff, 0x00]));
        assert_eq!(unscaled_bytes("255", 0), Some(vec![0x00, 0xff]));
        assert_eq!(
            unscaled_bytes("18446744073709551615", 0),
            Some(vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        );
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        assert_eq!(unscaled_bytes("1.234", 2), None);
        assert_eq!(unscaled_bytes("1e5", 0), None);
        assert_eq!(unscaled_bytes("", 0), None);
    }
}
