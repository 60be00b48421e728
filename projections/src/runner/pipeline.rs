//! What a batch goes through, whatever its source: decode, load what the plan needs
//! (`load.rs`), plan one change per document and sink (this file); write to every sink and
//! dead-letter what was skipped (`write.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use keel_core::event::Upcasters;
use keel_core::{Position, RecordedEvent};
use tokio::sync::watch;

use super::documents::Documents;
use super::plan;
use crate::config::{ErrorTolerance, RunnerConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStage, DeadLetterStore};
use crate::projection::Projection;
use crate::sink::{Change, Sink, Stored};
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
    /// While following the store with one sink: the documents it acknowledged last, planned
    /// from instead of loaded (`documents.rs`, ADR 0053).
    pub(crate) documents: Option<Arc<Documents>>,
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
            documents: None,
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
            documents: None,
        }
    }

    /// The same pipeline keeping the documents its sink acknowledged last, up to
    /// `cache.max.documents` (a pipeline of one sink, following the store); they are dropped
    /// whenever `epoch` moves (a rebuild switched generations).
    pub(crate) fn remembering(mut self, epoch: &Arc<AtomicU64>) -> Self {
        let capacity = self.config.cache_max_documents;
        if self.sinks.len() == 1 && capacity > 0 {
            self.documents = Some(Arc::new(Documents::new(capacity, Arc::clone(epoch))));
        }
        self
    }

    /// Tells the documents kept (if any) how the sink took a batch.
    pub(crate) fn remember(&self, prepared: &Prepared, as_planned: &[bool]) {
        if let (Some(documents), Some(changes), Some(planned)) = (
            &self.documents,
            prepared.per_sink.first(),
            as_planned.first(),
        ) {
            documents.acknowledged(changes, *planned);
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

pub(super) fn no_sink() -> Error {
    Error::Config {
        key: "sinks",
        reason: "a projection runner needs at least one sink".into(),
    }
}
