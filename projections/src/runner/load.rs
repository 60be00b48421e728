//! Where a batch's plan starts from: each sink's stored documents, loaded (or, following the
//! store, taken from the documents the sink acknowledged last) or taken from the recent batches
//! that change them, and, in a lane, the documents its sink lost restored from the other sinks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_core::Position;

use super::pipeline::{Pipeline, Recent, no_sink};
use super::{plan, retry};
use crate::Result;
use crate::projection::Projection;
use crate::sink::{Change, Op, Sink, Stored};

impl<P: Projection> Pipeline<P> {
    /// Each sink's stored documents of `keys` (among `touched`, every key the batch changes):
    /// loaded (with retries while the sink is down), or taken from the last recent batch that
    /// changes them.
    ///
    /// Returns only once every recent batch that changes one of `touched` is acknowledged, so
    /// that two batches being written never change the same document, even one planned from
    /// nothing (a fresh stream's); keys no recent batch changes are loaded meanwhile.
    pub(super) async fn stored(
        &self,
        touched: &[String],
        keys: Vec<String>,
        recent: &[Recent],
    ) -> Result<Vec<HashMap<String, Stored>>> {
        if self.sinks.is_empty() {
            return Err(no_sink());
        }
        let touched: HashSet<&str> = touched.iter().map(String::as_str).collect();
        // The recent batches that change a document of this batch: this one waits for them.
        let overlapping: Vec<bool> = recent
            .iter()
            .map(|r| {
                r.prepared
                    .per_sink
                    .iter()
                    .flatten()
                    .any(|c| touched.contains(c.key.as_str()))
            })
            .collect();
        let changed: HashSet<&str> = recent
            .iter()
            .zip(&overlapping)
            .filter(|(_, overlaps)| **overlaps)
            .flat_map(|(r, _)| r.prepared.per_sink.iter().flatten())
            .map(|c| c.key.as_str())
            .collect();
        let (deferred, now): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|k| changed.contains(k.as_str()));
        // No recent batch writes these: load them while those are written.
        let mut stored = self.load_all(&now).await?;
        let mut outcomes: Vec<Option<Vec<bool>>> = Vec::with_capacity(recent.len());
        for (batch, overlaps) in recent.iter().zip(&overlapping) {
            if !*overlaps {
                outcomes.push(None);
                continue;
            }
            let mut written = batch.written.clone();
            outcomes.push(
                written
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|w| w.clone()),
            );
        }
        if deferred.is_empty() {
            return Ok(stored);
        }
        for (index, (sink, stored)) in self.sinks.iter().zip(&mut stored).enumerate() {
            // The sink's last change of each key among the recent batches, and whether the
            // batch that made it was written as planned: then it is what the sink holds now.
            let mut last: HashMap<&str, (&Change, bool)> = HashMap::new();
            let overlapping = recent.iter().zip(&outcomes).zip(&overlapping);
            for ((batch, outcome), _) in overlapping.filter(|(_, overlaps)| **overlaps) {
                let as_planned = outcome
                    .as_ref()
                    .is_some_and(|o| o.get(index) == Some(&true));
                for change in batch.prepared.per_sink.get(index).into_iter().flatten() {
                    last.insert(change.key.as_str(), (change, as_planned));
                }
            }
            let mut load = Vec::new();
            for key in &deferred {
                match last.get(key.as_str()) {
                    Some((change, true)) => {
                        stored.insert(key.clone(), change.stored());
                    }
                    _ => load.push(key.clone()),
                }
            }
            if !load.is_empty() {
                stored.extend(self.load(sink, &load).await?);
            }
        }
        Ok(stored)
    }

    /// In a lane: the keys its sink holds nothing of although the batch does not start their
    /// stream (a TTL ran out, the sink is new) are loaded from the other sinks, each once its
    /// lane acknowledged everything up to `before` (a lane behind this one may not hold the
    /// document's last changes yet), and planned from the most recent copy. A copy that holds
    /// events of this batch already (its lane is ahead) is returned as well: it is written
    /// as is when none of the batch's later events changes the document again.
    pub(super) async fn restore_from_others(
        &self,
        decoded: &plan::Decoded<'_, P::Event>,
        stored: &mut [HashMap<String, Stored>],
        before: Position,
    ) -> Result<Vec<Change>> {
        let Some(own) = stored.first_mut() else {
            return Ok(Vec::new());
        };
        let lost: HashMap<&str, u64> = decoded
            .first_versions()
            .into_iter()
            .filter(|(key, first)| *first > 1 && !own.contains_key(*key))
            .collect();
        if lost.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = lost.keys().map(|key| (*key).to_owned()).collect();
        let mut copies: Vec<HashMap<String, Stored>> = Vec::with_capacity(self.others.len());
        for other in &self.others {
            let mut acknowledged = other.acknowledged.clone();
            // A lane that is gone has failed: the whole projection stops anyway.
            let _ = acknowledged
                .wait_for(|at| at.is_some_and(|at| at >= before))
                .await;
            copies.push(self.load(&other.sink, &keys).await?);
        }
        let mut ahead = Vec::new();
        for (key, first) in lost {
            let Some(best) = copies
                .iter()
                .filter_map(|copy| copy.get(key))
                .max_by_key(|copy| copy.version)
            else {
                continue;
            };
            if best.version >= first {
                ahead.push(Change {
                    key: key.to_owned(),
                    version: best.version,
                    op: best.doc.clone().map_or(Op::Delete, Op::Upsert),
                });
            }
            own.insert(key.to_owned(), best.clone());
        }
        Ok(ahead)
    }

    /// `keys` from every sink, the sinks at the same time: taken from the documents kept when
    /// the pipeline keeps them (one sink, following), loaded otherwise.
    async fn load_all(&self, keys: &[String]) -> Result<Vec<HashMap<String, Stored>>> {
        if let (Some(documents), [sink]) = (&self.documents, self.sinks.as_slice()) {
            let (mut held, missing) = documents.split(keys);
            held.extend(self.load(sink, &missing).await?);
            return Ok(vec![held]);
        }
        futures::future::try_join_all(self.sinks.iter().map(|sink| self.load(sink, keys))).await
    }

    /// `keys` loaded from `sink`, with retries while it is down.
    pub(super) async fn load(
        &self,
        sink: &Arc<dyn Sink>,
        keys: &[String],
    ) -> Result<HashMap<String, Stored>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        retry::with_retries(self.name(), "load", &self.config, || sink.load(keys)).await
    }
}
