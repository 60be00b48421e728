//! The `source` block of a rows event's records written once: every record of the event has the
//! same one but for `row`, and writing it for each record was a sixth of capture's bulk time
//! (`make bench BENCH=capture`).

use std::sync::Arc;

use super::Source;

/// A `source` block as JSON text, split around its `row` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceJson {
    head: Arc<[u8]>,
    tail: Arc<[u8]>,
}

impl SourceJson {
    /// `source` written once (its `row` is put in per record).
    pub fn new(source: &Source) -> serde_json::Result<Self> {
        let mut zero = source.clone();
        zero.row = 0;
        let mut text = Vec::with_capacity(256);
        zero.write_json(&mut text)?;
        // Keys are written in order and string values escape their quotes, so this is the
        // `row` field and nothing else.
        let marker = b"\"row\":0,\"thread\":";
        let at = text
            .windows(marker.len())
            .position(|w| w == marker)
            .ok_or_else(|| serde::ser::Error::custom("no `row` in the source block"))?;
        let value = at + b"\"row\":".len();
        Ok(Self {
            head: text[..value].into(),
            tail: text[value + 1..].into(),
        })
    }

    /// Appends the block with `row`.
    pub fn write(&self, row: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        super::writer::int(out, row);
        out.extend_from_slice(&self.tail);
    }
}
