//! An in-memory sink with the same version guard as the real ones, for fixtures and unit tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde_json::Value;

use crate::sink::{Change, Sink, Stored, WriteReport};
use crate::{Error, Result};

/// Documents in a map; clones share the map. [`set_down`](MemorySink::set_down) makes every call
/// fail as [`Error::Unavailable`] until it is set up again, to test outages.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    docs: Arc<Mutex<HashMap<String, Stored>>>,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    loaded: Arc<AtomicU64>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The document stored under `key`, if any (a tombstone is absent).
    pub fn document(&self, key: &str) -> Option<Value> {
        self.lock().get(key).and_then(|s| s.doc.clone())
    }

    /// The document or tombstone stored under `key`, with its version.
    pub fn stored(&self, key: &str) -> Option<Stored> {
        self.lock().get(key).cloned()
    }

    /// Every live document, by key.
    pub fn documents(&self) -> HashMap<String, Value> {
        self.lock()
            .iter()
            .filter_map(|(k, s)| s.doc.clone().map(|d| (k.clone(), d)))
            .collect()
    }

    /// Forgets `key`, document and version, as a TTL or an eviction would; false when it held
    /// nothing under `key`.
    pub fn expire(&self, key: &str) -> bool {
        self.lock().remove(key).is_some()
    }

    /// How many calls failed because the sink was set down: a runner retrying shows here.
    pub fn refused_calls(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// How many keys `load` was asked for: the documents a runner read back.
    pub fn loaded_keys(&self) -> u64 {
        self.loaded.load(Ordering::SeqCst)
    }

    /// Makes the sink fail (`true`) or work (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Stored>> {
        self.docs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_up(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Error::Unavailable {
                sink: "memory",
                reason: "set down".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for MemorySink {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Stored>> {
        self.check_up()?;
        self.loaded.fetch_add(keys.len() as u64, Ordering::SeqCst);
        let docs = self.lock();
        Ok(keys
            .iter()
            .filter_map(|k| docs.get(k).map(|s| (k.clone(), s.clone())))
            .collect())
    }

    async fn write(&self, changes: &[Change]) -> Result<WriteReport> {
        self.check_up()?;
        let mut docs = self.lock();
        let mut report = WriteReport::default();
        for change in changes {
            if docs
                .get(&change.key)
                .is_some_and(|s| s.version >= change.version)
            {
                report.stale += 1;
                continue;
            }
            docs.insert(change.key.clone(), change.stored());
            report.written += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sink::Op;

    fn upsert(key: &str, version: u64, doc: Value) -> Change {
        Change {
            key: key.into(),
            version,
            op: Op::Upsert(doc),
        }
    }

    #[tokio::test]
    async fn older_and_equal_versions_are_stale() {
        let sink = MemorySink::new();
        let report = sink.write(&[upsert("a", 2, json!(2))]).await.unwrap();
        assert_eq!(report.written, 1);
        let report = sink
            .write(&[upsert("a", 1, json!(1)), upsert("a", 2, json!(9))])
            .await
            .unwrap();
        assert_eq!(report.stale, 2);
        assert_eq!(sink.document("a"), Some(json!(2)));
    }

    #[tokio::test]
    async fn deletes_leave_a_versioned_tombstone() {
        let sink = MemorySink::new();
        sink.write(&[Change {
            key: "a".into(),
            version: 3,
            op: Op::Delete,
        }])
        .await
        .unwrap();
        sink.write(&[upsert("a", 2, json!(2))]).await.unwrap();
        assert_eq!(sink.document("a"), None);
        assert_eq!(sink.stored("a").map(|s| s.version), Some(3));
    }
}
