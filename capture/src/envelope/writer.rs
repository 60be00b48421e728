//! The change event written by hand, byte for byte as serde writes it (tests compare the two):
//! keys are literals, strings that need no escaping are copied, numbers use `itoa`. Serde's
//! derive escapes every key and goes through its serializer for every field, which was a
//! tenth of the capture loop's time on small transactions (`make bench BENCH=capture`).

use serde_json::Value as Json;

use super::{Row, Source};

/// Appends `s` as a JSON string.
pub(super) fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    // serde_json escapes control characters, `"` and `\` only.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, s)
    }
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) -> serde_json::Result<()> {
    match s {
        Some(s) => string(out, s),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// Appends an integer.
pub(super) fn int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `value` (as serde would: `Json`'s own serializer).
fn value(out: &mut Vec<u8>, value: &Json) -> serde_json::Result<()> {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::String(s) => string(out, s)?,
        Json::Number(n) if n.is_i64() => int(out, n.as_i64().unwrap_or_default()),
        Json::Number(n) if n.is_u64() => int(out, n.as_u64().unwrap_or_default()),
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

impl Row {
    /// Appends the row as a JSON object in column order.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        for (i, (name, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, name)?;
            out.push(b':');
            value(out, v)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Appends `row` or `null`.
pub(super) fn opt_row(out: &mut Vec<u8>, row: Option<&Row>) -> serde_json::Result<()> {
    match row {
        Some(r) => r.write_json(out),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

impl Source {
    /// Appends the block as a JSON object, fields in Debezium's order.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"version\":");
        string(out, &self.version)?;
        out.extend_from_slice(b",\"connector\":");
        string(out, self.connector)?;
        out.extend_from_slice(b",\"name\":");
        string(out, &self.name)?;
        out.extend_from_slice(b",\"ts_ms\":");
        int(out, self.ts_ms);
        out.extend_from_slice(b",\"snapshot\":");
        string(out, self.snapshot)?;
        out.extend_from_slice(b",\"db\":");
        string(out, &self.db)?;
        out.extend_from_slice(b",\"sequence\":");
        opt_string(out, self.sequence.as_deref())?;
        out.extend_from_slice(b",\"ts_us\":");
        int(out, self.ts_us);
        out.extend_from_slice(b",\"ts_ns\":");
        int(out, self.ts_ns);
        out.extend_from_slice(b",\"table\":");
        string(out, &self.table)?;
        out.extend_from_slice(b",\"server_id\":");
        int(out, self.server_id);
        out.extend_from_slice(b",\"gtid\":");
        opt_string(out, self.gtid.as_deref())?;
        out.extend_from_slice(b",\"file\":");
        string(out, &self.file)?;
        out.extend_from_slice(b",\"pos\":");
        int(out, self.pos);
        out.extend_from_slice(b",\"row\":");
        int(out, self.row);
        out.extend_from_slice(b",\"thread\":");
        match self.thread {
            Some(t) => int(out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"query\":");
        opt_string(out, self.query.as_deref())?;
        out.push(b'}');
        Ok(())
    }
}
