//! The second half of a batch: every sink's changes written (the sinks at the same time, the
//! batch retried while one is down), refused documents reported, dead letters put.

use super::pipeline::{Applied, Pipeline, Prepared};
use super::{plan, retry};
use crate::Result;
use crate::dead_letter::{DeadLetter, DeadLetterStage};
use crate::projection::Projection;
use crate::sink::{Change, WriteReport};

impl<P: Projection> Pipeline<P> {
    /// Writes each sink's changes until all acknowledged. Sinks that already acknowledged get
    /// theirs again after another one failed, which their version guard makes harmless.
    pub(crate) async fn write(&self, prepared: &Prepared) -> Result<Vec<WriteReport>> {
        if prepared.per_sink.iter().all(Vec::is_empty) {
            return Ok(vec![WriteReport::default(); prepared.per_sink.len()]);
        }
        retry::with_retries(self.name(), "write", &self.config, || {
            futures::future::try_join_all(self.sinks.iter().zip(&prepared.per_sink).map(
                |(sink, changes)| async move {
                    if changes.is_empty() {
                        Ok(WriteReport::default())
                    } else {
                        sink.write(changes).await
                    }
                },
            ))
        })
        .await
    }

    /// Per sink, whether it wrote every change as planned: nothing stale, nothing refused.
    pub(crate) fn as_planned(reports: &[WriteReport]) -> Vec<bool> {
        reports
            .iter()
            .map(|r| r.stale == 0 && r.rejected.is_empty())
            .collect()
    }

    /// Logs the documents the sinks refused and puts them (with a destination) and the batch's
    /// other letters in the dead-letter destination, retrying while it is down.
    pub(crate) async fn put_letters(
        &self,
        prepared: &Prepared,
        reports: &[WriteReport],
    ) -> Result<Applied> {
        let mut letters = prepared.letters.clone();
        letters.extend(self.refused(prepared, reports));
        if let Some(destination) = self.dead_letters.as_ref().filter(|_| !letters.is_empty()) {
            retry::with_retries(self.name(), "dead-letter", &self.config, || {
                destination.put(&letters)
            })
            .await?;
        }
        Ok(Applied {
            changes: prepared.per_sink.iter().map(Vec::len).max().unwrap_or(0),
            dead_letters: letters.len(),
        })
    }

    /// Logs the documents the sinks refused and, with a dead-letter destination, returns them
    /// as dead letters of the events that changed them last.
    fn refused(&self, prepared: &Prepared, reports: &[WriteReport]) -> Vec<DeadLetter> {
        if reports.iter().all(|r| r.rejected.is_empty()) {
            return Vec::new();
        }
        // Rare: decode again to find each refused document's event.
        let handled = self.projection.event_types();
        let decoded = plan::decode(
            &*self.projection,
            &self.upcasters,
            &handled,
            &prepared.batch,
        );
        let mut letters = Vec::new();
        for ((sink, report), changes) in self.sinks.iter().zip(reports).zip(&prepared.per_sink) {
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
                    .find(|c: &&Change| c.key == rejected.key)
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
}
