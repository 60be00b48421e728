//! The [`Sink`] trait: where a projection's documents are written, idempotently and guarded by
//! version.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;

/// A document as a sink stores it: its version (the stream version of the last event that
/// changed it) and its content, `None` once deleted (a tombstone the sink still remembers).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The version written last.
    pub version: u64,
    /// The document, `None` when it was deleted.
    pub doc: Option<Value>,
}

/// One versioned write.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The document's key.
    pub key: String,
    /// Its new version: the stream version of the event that made the change.
    pub version: u64,
    /// Write or remove.
    pub op: Op,
}

impl Change {
    /// What a sink holds once it took this change: the document, or a tombstone, at its version.
    pub(crate) fn stored(&self) -> Stored {
        Stored {
            version: self.version,
            doc: match &self.op {
                Op::Upsert(doc) => Some(doc.clone()),
                Op::Delete => None,
            },
        }
    }
}

/// What a [`Change`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Store this document.
    Upsert(Value),
    /// Remove the document.
    Delete,
}

/// A document the sink refused for good (not retried), with the server's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The document's key.
    pub key: String,
    /// Why the server refused it.
    pub reason: String,
}

/// What a sink did with a batch it acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Changes written.
    pub written: usize,
    /// Changes ignored because the sink already held the same or a newer version.
    pub stale: usize,
    /// Changes refused for good, reported and not retried.
    pub rejected: Vec<Rejected>,
}

/// Where a projection's documents go.
///
/// Contract: [`write`](Sink::write) returns `Ok` only once every change is durable in the sink
/// (or rejected for good and listed in the report). Writes are idempotent and version-guarded:
/// a change whose version is not above the stored one (document or tombstone) is ignored, so
/// writing a batch twice, or an older batch after a newer one, changes nothing. A failure that
/// may pass is [`Error::Unavailable`](crate::Error::Unavailable): the runner waits and writes the
/// same batch again.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// A short name for logs and errors (`redis`, `elasticsearch`).
    fn name(&self) -> &'static str;

    /// The stored documents (or tombstones) of these keys; missing keys are absent from the map.
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Stored>>;

    /// Writes a batch of changes (at most one per key), acknowledging only when durable.
    async fn write(&self, changes: &[Change]) -> Result<WriteReport>;
}
