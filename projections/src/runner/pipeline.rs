//! What a batch goes through, whatever its source: decode, load what the plan needs, plan one
//! change per document and sink (this file); write to every sink and dead-letter what was
//! skipped (`write.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_core::event::Upcasters;
use keel_core::{Position, RecordedEvent};
use tokio::sync::watch;

use super::{plan, retry};
use crate::config::{ErrorTolerance, RunnerConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStage, DeadLetterStore};
use crate::projection::Projection;
use crate::sink::{Change, Op, Sink, Stored};
use crate::{Error, Result};

/// A projection with its sinks, configuration, upcasters and dead-letter destination.
pub(crate) struct Pipeline<P> {
    pub(crate) projection: Arc<P>,
    pub(crate) sinks: Vec<Arc<dyn Sink>>,
    pub(crate) config: RunnerConfig,
    pub(crate) upcasters: Arc<Upcasters>,
    /// Where skipped events and refused documents go.
    pub(crate) dead_letters: Option<Arc<dyn DeadLetterStore>>,
    /// In a lane (one sink of several followed on its own, ADR 0051): the other sinks, a
    /// document this lane's sink lost is planned from. Empty otherwise.
    pub(crate) others: Vec<Other>,
    /// Whether it puts the dead letters of events that do not decode (of several lanes reading
    /// the same events, only the first one does).
    pub(crate) puts_decode_letters: bool,
}

/// Another lane's sink, with the position up to which that lane acknowledged everything.
#[derive(Clone)]
pub(crate) struct Other {
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) acknowledged: watch::Receiver<Option<Position>>,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Applied {
    /// Changes written to the sinks.
    pub(crate) changes: usize,
    /// Dead letters put.
    pub(crate) dead_letters: usize,
}

/// A batch decoded and planned: what each sink gets, and the dead letters found so far.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The events, as read.
    pub(crate) batch: Vec<RecordedEvent>,
    /// Each sink's changes, in the order of the pipeline's sinks.
    pub(crate) per_sink: Vec<Vec<Change>>,
    /// Undecodable events (and records of the source that are not events).
    pub(crate) letters: Vec<DeadLetter>,
}

impl Prepared {
    /// The position of the batch's last event.
    pub(crate) fn last(&self) -> Option<Position> {
        self.batch.last().map(|e| e.position)
    }
}

/// A batch handed to the writer shortly before: while it may still be written, documents it
/// changes are not loaded by the batches after it.
#[derive(Debug, Clone)]
pub(crate) struct Recent {
    /// The batch and its changes per sink.
    pub(crate) prepared: Arc<Prepared>,
    /// Set once its write was acknowledged: per sink, whether the sink wrote every change as
    /// planned (nothing stale, nothing refused). The sender is dropped when the write failed.
    pub(crate) written: watch::Receiver<Option<Vec<bool>>>,
}

impl Recent {
    /// Whether its write was acknowledged (or failed) already.
    pub(crate) fn settled(&self) -> bool {
        self.written.borrow().is_some() || self.written.has_changed().is_err()
    }
}

impl<P> std::fmt::Debug for Pipeline<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("config", &self.config)
            .field(
                "dead_letters",
                &self.dead_letters.as_ref().map(|d| d.name()),
            )
            .finish_non_exhaustive()
    }
}

impl<P: Projection> Pipeline<P> {
    /// `projection` with the default configuration, no sink and no dead-letter destination.
    pub(crate) fn new(projection: P) -> Self {
        Self {
            projection: Arc::new(projection),
            sinks: Vec::new(),
            config: RunnerConfig::default(),
            upcasters: Arc::new(Upcasters::new()),
            dead_letters: None,
            others: Vec::new(),
            puts_decode_letters: true,
        }
    }

    /// The same pipeline writing to `sinks`.
    pub(crate) fn with_sinks(&self, sinks: Vec<Arc<dyn Sink>>) -> Self {
        Self {
            projection: self.projection.clone(),
            sinks,
            config: self.config.clone(),
            upcasters: self.upcasters.clone(),
            dead_letters: self.dead_letters.clone(),
            others: Vec::new(),
            puts_decode_letters: true,
        }
    }

    /// The lane of `sink`, one of this pipeline's sinks: a pipeline writing to it alone,
    /// restoring lost documents from `others`; the first lane puts the decode dead letters.
    pub(crate) fn lane(&self, sink: Arc<dyn Sink>, others: Vec<Other>, first: bool) -> Self {
        Self {
            others,
            puts_decode_letters: first,
            ..self.with_sinks(vec![sink])
        }
    }

    /// The projection's name.
    pub(crate) fn name(&self) -> &str {
        self.projection.name()
    }

    /// Applies a batch in one go: prepares it, writes it to every sink (retrying while one is
    /// down), then puts `letters` and the batch's own dead letters. Returns once all of it is
    /// durable; the caller then commits its position.
    #[cfg(feature = "kafka")]
    pub(crate) async fn apply(
        &self,
        batch: Vec<RecordedEvent>,
        letters: Vec<DeadLetter>,
    ) -> Result<Applied> {
        let prepared = self.prepare(batch, letters, &[], Position::START).await?;
        let reports = self.write(&prepared).await?;
        self.put_letters(&prepared, &reports).await
    }

    /// Decodes a batch, loads the documents its plan needs from every sink and plans each
    /// sink's changes. `recent` are the batches handed to the writer before this one, oldest
    /// first, among them every one not yet acknowledged: a document one of them changes is
    /// planned from the last of them that changes it, once that one is acknowledged (from its
    /// change when the sink wrote it as planned, loaded otherwise); the rest are loaded at once.
    /// `before` is where the batch starts: every event up to it came in earlier batches.
    pub(crate) async fn prepare(
        &self,
        batch: Vec<RecordedEvent>,
        mut letters: Vec<DeadLetter>,
        recent: &[Recent],
        before: Position,
    ) -> Result<Prepared> {
        let handled = self.projection.event_types();
        let per_sink = {
            let decoded = plan::decode(&*self.projection, &self.upcasters, &handled, &batch);
            let undecodable = self.undecodable(&decoded)?;
            if self.puts_decode_letters {
                letters.extend(undecodable);
            }
            if decoded.events.is_empty() {
                Vec::new()
            } else {
                let fresh = plan::fresh_streams(&batch);
                let touched = decoded.keys();
                let to_load = decoded.keys_to_load(&fresh);
                let mut stored = self.stored(&touched, to_load, recent).await?;
                let restored = if self.others.is_empty() {
                    plan::restore_lost(&decoded, &mut stored);
                    Vec::new()
                } else {
                    self.restore_from_others(&decoded, &mut stored, before)
                        .await?
                };
                let mut per_sink = self.plan_per_sink(&decoded, stored)?;
                if let Some(changes) = per_sink.first_mut() {
                    for change in restored {
                        if !changes.iter().any(|c| c.key == change.key) {
                            changes.push(change);
                        }
                    }
                }
                per_sink
            }
        };
        Ok(Prepared {
            batch,
            per_sink,
            letters,
        })
    }

    /// The batch's events that did not decode, as dead letters when `errors.tolerance` is
    /// `all`; with `none`, the first one as the error that stops the projection.
    fn undecodable<E>(&self, decoded: &plan::Decoded<'_, E>) -> Result<Vec<DeadLetter>> {
        if let (ErrorTolerance::None, Some(error)) = (
            self.config.errors_tolerance,
            decoded.first_failure(self.name()),
        ) {
            return Err(error);
        }
        Ok(decoded
            .failed
            .iter()
            .map(|(recorded, reason)| {
                tracing::warn!(
                    projection = self.name(),
                    event_type = %recorded.event_type,
                    stream_id = %recorded.stream_id,
                    position = %recorded.position,
                    %reason,
                    "Event does not decode; dead-lettered."
                );
                DeadLetter::new(
                    self.name(),
                    DeadLetterStage::Decode,
                    recorded,
                    reason.clone(),
                )
            })
            .collect())
    }

    /// Each sink's stored documents of `keys` (among `touched`, every key the batch changes):
    /// loaded (with retries while the sink is down), or taken from the last recent batch that
    /// changes them.
    ///
    /// Returns only once every recent batch that changes one of `touched` is acknowledged, so
    /// that two batches being written never change the same document, even one planned from
    /// nothing (a fresh stream's); keys no recent batch changes are loaded meanwhile.
    async fn stored(
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
                        let doc = match &change.op {
                            Op::Upsert(doc) => Some(doc.clone()),
                            Op::Delete => None,
                        };
                        stored.insert(
                            key.clone(),
                            Stored {
                                version: change.version,
                                doc,
                            },
                        );
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
    async fn restore_from_others(
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

    /// `keys` loaded from every sink, the sinks at the same time.
    async fn load_all(&self, keys: &[String]) -> Result<Vec<HashMap<String, Stored>>> {
        futures::future::try_join_all(self.sinks.iter().map(|sink| self.load(sink, keys))).await
    }

    /// `keys` loaded from `sink`, with retries while it is down.
    async fn load(&self, sink: &Arc<dyn Sink>, keys: &[String]) -> Result<HashMap<String, Stored>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        retry::with_retries(self.name(), "load", &self.config, || sink.load(keys)).await
    }

    /// The changes of each sink, planned from the documents it holds.
    ///
    /// Each sink gets the changes planned from its own stored versions: after a crash between
    /// two sinks' writes, the batch comes again, the sink that had it skips it by version, and
    /// the one that missed it catches up (planning from the first sink alone would skip it for
    /// both). When the sinks agree, which is the usual case, the plan is made once.
    fn plan_per_sink(
        &self,
        decoded: &plan::Decoded<'_, P::Event>,
        stored: Vec<HashMap<String, Stored>>,
    ) -> Result<Vec<Vec<Change>>> {
        // The stored versions each plan was made from, and the sink that has it: a sink that
        // holds the same versions gets a copy (a lone sink's plan is never copied).
        let mut planned: Vec<(HashMap<String, u64>, usize)> = Vec::new();
        let mut per_sink: Vec<Vec<Change>> = Vec::with_capacity(stored.len());
        for stored in stored {
            let versions: HashMap<String, u64> =
                stored.iter().map(|(k, s)| (k.clone(), s.version)).collect();
            let changes = match planned.iter().find(|(v, _)| *v == versions) {
                Some((_, sink)) => per_sink[*sink].clone(),
                None => {
                    planned.push((versions, per_sink.len()));
                    plan::plan(&*self.projection, decoded, stored)?
                }
            };
            per_sink.push(changes);
        }
        Ok(per_sink)
    }

    /// Refuses a pipeline that cannot run: no sink, or `errors.tolerance = all` without a
    /// dead-letter destination.
    pub(crate) fn check(&self) -> Result<()> {
        if self.sinks.is_empty() {
            return Err(no_sink());
        }
        if self.config.errors_tolerance == ErrorTolerance::All && self.dead_letters.is_none() {
            return Err(Error::Config {
                key: "errors.tolerance",
                reason: "`all` needs a dead-letter destination (`with_dead_letters`)".into(),
            });
        }
        Ok(())
    }
}

fn no_sink() -> Error {
    Error::Config {
        key: "sinks",
        reason: "a projection runner needs at least one sink".into(),
    }
}
