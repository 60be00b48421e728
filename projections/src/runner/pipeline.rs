//! What a batch goes through, whatever its source: decode, load, plan, write to every sink,
//! dead-letter what was skipped.

use std::collections::HashMap;
use std::sync::Arc;

use keel_core::RecordedEvent;
use keel_core::event::Upcasters;

use super::{plan, retry};
use crate::config::{ErrorTolerance, RunnerConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStage, DeadLetterStore};
use crate::projection::Projection;
use crate::sink::{Change, Sink, WriteReport};
use crate::{Error, Result};

/// A projection with its sinks, configuration, upcasters and dead-letter destination.
pub(crate) struct Pipeline<P> {
    pub(crate) projection: Arc<P>,
    pub(crate) sinks: Vec<Arc<dyn Sink>>,
    pub(crate) config: RunnerConfig,
    pub(crate) upcasters: Arc<Upcasters>,
    /// Where skipped events and refused documents go.
    pub(crate) dead_letters: Option<Arc<dyn DeadLetterStore>>,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Applied {
    /// Changes written to the sinks.
    pub(crate) changes: usize,
    /// Dead letters put.
    pub(crate) dead_letters: usize,
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
        }
    }

    /// The projection's name.
    pub(crate) fn name(&self) -> &str {
        self.projection.name()
    }

    /// Applies a batch: decodes it, loads the documents it touches from every sink, writes at
    /// most one change per key to every sink (retrying while one is down), then puts `letters`
    /// and the batch's own dead letters. Returns once all of it is durable; the caller then
    /// commits its position.
    ///
    /// Each sink gets the changes planned from its own stored versions: after a crash between
    /// two sinks' writes, the batch comes again, the sink that had it skips it by version, and
    /// the one that missed it catches up (planning from the first sink alone would skip it for
    /// both). When the sinks agree, which is the usual case, the plan is made once.
    pub(crate) async fn apply(
        &self,
        batch: &[RecordedEvent],
        mut letters: Vec<DeadLetter>,
    ) -> Result<Applied> {
        let handled = self.projection.event_types();
        let decoded = plan::decode(&*self.projection, &self.upcasters, &handled, batch);
        letters.extend(self.undecodable(&decoded)?);
        let per_sink = if decoded.events.is_empty() {
            Vec::new()
        } else {
            self.plan_per_sink(&decoded).await?
        };
        let changes = per_sink.iter().map(Vec::len).max().unwrap_or(0);
        if changes > 0 {
            let reports = self.write(&per_sink).await?;
            letters.extend(self.report(&reports, &per_sink, &decoded));
        }
        self.dead_letter(&letters).await?;
        Ok(Applied {
            changes,
            dead_letters: letters.len(),
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

    /// Puts the letters in the dead-letter destination, retrying while it is down.
    async fn dead_letter(&self, letters: &[DeadLetter]) -> Result<()> {
        let Some(destination) = self.dead_letters.as_ref().filter(|_| !letters.is_empty()) else {
            return Ok(());
        };
        retry::with_retries(self.name(), "dead-letter", &self.config, || {
            destination.put(letters)
        })
        .await
    }

    /// The changes of each sink, planned from the documents it holds (loaded with retries
    /// while it is down).
    async fn plan_per_sink(
        &self,
        decoded: &plan::Decoded<'_, P::Event>,
    ) -> Result<Vec<Vec<Change>>> {
        if self.sinks.is_empty() {
            return Err(no_sink());
        }
        let keys = decoded.keys();
        let mut planned: Vec<(HashMap<String, u64>, Vec<Change>)> = Vec::new();
        let mut per_sink = Vec::with_capacity(self.sinks.len());
        for sink in &self.sinks {
            let stored =
                retry::with_retries(self.name(), "load", &self.config, || sink.load(&keys)).await?;
            let versions: HashMap<String, u64> =
                stored.iter().map(|(k, s)| (k.clone(), s.version)).collect();
            let changes = match planned.iter().find(|(v, _)| *v == versions) {
                Some((_, changes)) => changes.clone(),
                None => {
                    let changes = plan::plan(&*self.projection, decoded, stored)?;
                    planned.push((versions, changes.clone()));
                    changes
                }
            };
            per_sink.push(changes);
        }
        Ok(per_sink)
    }

    /// Writes each sink's changes until all acknowledged. Sinks that already acknowledged get
    /// theirs again after another one failed, which their version guard makes harmless.
    async fn write(&self, per_sink: &[Vec<Change>]) -> Result<Vec<WriteReport>> {
        retry::with_retries(self.name(), "write", &self.config, || async {
            let mut reports = Vec::with_capacity(self.sinks.len());
            for (sink, changes) in self.sinks.iter().zip(per_sink) {
                reports.push(if changes.is_empty() {
                    WriteReport::default()
                } else {
                    sink.write(changes).await?
                });
            }
            Ok(reports)
        })
        .await
    }

    /// Logs the documents the sinks refused and, with a dead-letter destination, returns them
    /// as dead letters of the events that produced them.
    fn report<E>(
        &self,
        reports: &[WriteReport],
        per_sink: &[Vec<Change>],
        decoded: &plan::Decoded<'_, E>,
    ) -> Vec<DeadLetter> {
        let mut letters = Vec::new();
        for ((sink, report), changes) in self.sinks.iter().zip(reports).zip(per_sink) {
            for rejected in &report.rejected {
                tracing::error!(
                    projection = self.name(),
                    sink = sink.name(),
                    key = %rejected.key,
                    reason = %rejected.reason,
                    "Document rejected."
                );
                if self.dead_letters.is_none() {
                    continue;
                }
                let source = changes
                    .iter()
                    .find(|c| c.key == rejected.key)
                    .and_then(|c| decoded.source(&c.key, c.version));
                if let Some(event) = source {
                    let stage = DeadLetterStage::Sink {
                        sink: sink.name().to_owned(),
                        key: rejected.key.clone(),
                    };
                    letters.push(DeadLetter::new(
                        self.name(),
                        stage,
                        event,
                        rejected.reason.clone(),
                    ));
                }
            }
        }
        letters
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
