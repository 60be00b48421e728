//! The documents a following pipeline's sink acknowledged last (`cache.max.documents`, ADR
//! 0053): a batch that changes a document written a moment ago (an order confirmed after its
//! saga) plans from this copy instead of reading it back from the sink.
//!
//! It holds what the sink holds because the runner is the sink's only writer: an entry is
//! the change of an acknowledged batch the sink took as planned; a batch the sink did not take
//! as planned (a stale version, a refused document) drops its keys, so they are loaded again.
//! A rebuild's switch to a new generation empties it (the runner's epoch moves), and it lives
//! only as long as one `run`: after a failure the runner starts again with an empty one.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::sink::{Change, Stored};

/// The most recently acknowledged documents of one sink, at most `capacity` of them (the
/// oldest written go first).
#[derive(Debug)]
pub(crate) struct Documents {
    capacity: usize,
    /// Moved by a rebuild's switch: entries from before it are dropped.
    epoch: Arc<AtomicU64>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The epoch the entries belong to.
    epoch: u64,
    docs: HashMap<String, Entry>,
    /// Keys in the order they were written, with the stamp of that write: a key written again
    /// has a newer stamp in `docs`, and its older place here is skipped.
    order: VecDeque<(String, u64)>,
    stamp: u64,
}

#[derive(Debug)]
struct Entry {
    stored: Stored,
    stamp: u64,
}

impl Documents {
    /// Holds up to `capacity` documents; entries are dropped whenever `epoch` moves.
    pub(crate) fn new(capacity: usize, epoch: Arc<AtomicU64>) -> Self {
        Self {
            capacity,
            epoch,
            inner: Mutex::default(),
        }
    }

    /// The held documents among `keys`, and the keys it holds nothing of.
    pub(crate) fn split(&self, keys: &[String]) -> (HashMap<String, Stored>, Vec<String>) {
        let inner = self.lock();
        let mut held = HashMap::new();
        let mut missing = Vec::new();
        for key in keys {
            match inner.docs.get(key) {
                Some(entry) => {
                    held.insert(key.clone(), entry.stored.clone());
                }
                None => missing.push(key.clone()),
            }
        }
        (held, missing)
    }

    /// A batch's changes to this sink were acknowledged: held when the sink took them as
    /// planned, dropped otherwise.
    pub(crate) fn acknowledged(&self, changes: &[Change], as_planned: bool) {
        let mut inner = self.lock();
        if !as_planned {
            for change in changes {
                inner.docs.remove(&change.key);
            }
            return;
        }
        for change in changes {
            inner.stamp += 1;
            let stamp = inner.stamp;
            let stored = change.stored();
            inner
                .docs
                .insert(change.key.clone(), Entry { stored, stamp });
            inner.order.push_back((change.key.clone(), stamp));
        }
        inner.evict(self.capacity);
    }

    /// The entries, emptied first if a rebuild switched generations since they were written.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let epoch = self.epoch.load(Ordering::Acquire);
        if inner.epoch != epoch {
            *inner = Inner {
                epoch,
                ..Inner::default()
            };
        }
        inner
    }
}

impl Inner {
    /// Drops the oldest written documents beyond `capacity`, and the places of keys written
    /// again once they are as many as twice the capacity.
    fn evict(&mut self, capacity: usize) {
        while self.docs.len() > capacity || self.order.len() > capacity.saturating_mul(2) {
            let Some((key, stamp)) = self.order.pop_front() else {
                return;
            };
            if self.docs.get(&key).is_some_and(|e| e.stamp == stamp) {
                self.docs.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sink::Op;

    fn upsert(key: &str, version: u64) -> Change {
        Change {
            key: key.into(),
            version,
            op: Op::Upsert(json!({ "v": version })),
        }
    }

    fn versions(documents: &Documents, keys: &[&str]) -> Vec<Option<u64>> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let (held, _) = documents.split(&keys);
        keys.iter()
            .map(|k| held.get(k).map(|s| s.version))
            .collect()
    }

    #[test]
    fn holds_what_the_sink_took_as_planned_and_drops_what_it_did_not() {
        let documents = Documents::new(10, Arc::default());
        documents.acknowledged(&[upsert("a", 1), upsert("b", 1)], true);
        documents.acknowledged(
            &[Change {
                key: "b".into(),
                version: 2,
                op: Op::Delete,
            }],
            true,
        );
        documents.acknowledged(&[upsert("c", 1)], false);
        let keys = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let (held, missing) = documents.split(&keys);
        assert_eq!(held["a"].doc, Some(json!({ "v": 1 })));
        assert_eq!((held["b"].version, held["b"].doc.clone()), (2, None));
        assert_eq!(missing, ["c"]);
        documents.acknowledged(&[upsert("a", 2)], false);
        assert_eq!(
            versions(&documents, &["a"]),
            [None],
            "a refused write drops it"
        );
    }

    #[test]
    fn the_oldest_written_go_first_beyond_the_capacity() {
        let documents = Documents::new(2, Arc::default());
        documents.acknowledged(&[upsert("a", 1), upsert("b", 1)], true);
        documents.acknowledged(&[upsert("a", 2)], true);
        documents.acknowledged(&[upsert("c", 1)], true);
        assert_eq!(
            versions(&documents, &["a", "b", "c"]),
            [Some(2), None, Some(1)]
        );
        // A key written over and over does not grow the order beyond twice the capacity.
        for version in 3..100 {
            documents.acknowledged(&[upsert("a", version)], true);
        }
        assert!(documents.lock().order.len() <= 4);
        assert_eq!(versions(&documents, &["a"]), [Some(99)]);
    }

    #[test]
    fn a_new_epoch_empties_it() {
        let epoch = Arc::new(AtomicU64::new(0));
        let documents = Documents::new(10, Arc::clone(&epoch));
        documents.acknowledged(&[upsert("a", 1)], true);
        epoch.fetch_add(1, Ordering::AcqRel);
        assert_eq!(versions(&documents, &["a"]), [None]);
        documents.acknowledged(&[upsert("a", 2)], true);
        assert_eq!(versions(&documents, &["a"]), [Some(2)]);
    }
}
