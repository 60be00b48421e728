//! The store-fed runner's batch loop, as three stages working at the same time on successive
//! batches (the batches themselves are read ahead by `source.rs`):
//!
//! - the **planner** decodes and plans each batch as it comes; a batch that changes a document
//!   which a batch still being written changes waits for that batch's acknowledgement (its
//!   other documents are loaded meanwhile);
//! - the **writer** writes up to `max.in.flight.requests` batches at a time, in order, and
//!   puts their dead letters; batches in flight never change the same document;
//! - the **checkpointer** saves the position after the last acknowledged batch, the latest one
//!   whenever the previous save is done, and always the last one before the loop returns.
//!
//! Nothing is checkpointed before every sink acknowledged it; the stages hand batches over
//! through bounded channels, so memory stays bounded.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position};
use tokio::sync::{mpsc, watch};

use super::ProjectionRunner;
use super::pipeline::{Pipeline, Prepared, Recent};
use super::source::Batches;
use crate::Result;
use crate::projection::Projection;

/// A planned batch on its way to the writer, with where to say how it was written.
struct Planned {
    prepared: Arc<Prepared>,
    written: watch::Sender<Option<Vec<bool>>>,
}

/// Recent batches the planner keeps beyond those not yet acknowledged: their changes spare
/// loads for documents that the next batches change again.
const KEEP_RECENT: usize = 2;

impl<S: EventStore + CheckpointStore, P: Projection> ProjectionRunner<S, P> {
    /// Projects the batches through `pipeline` until they end (a catch-up) or a batch fails for
    /// good; returns the number of events projected. Everything acknowledged before a failure
    /// is checkpointed.
    pub(super) async fn project(
        &self,
        pipeline: &Pipeline<P>,
        batches: Batches,
        after: Position,
        progress: impl FnMut(Position),
    ) -> Result<usize> {
        let (positions, acknowledged) = watch::channel(None);
        let (written, saved) = tokio::join!(
            self.plan_and_write(pipeline, batches, after, positions, progress),
            self.save_checkpoints(acknowledged)
        );
        saved?;
        written
    }

    /// One pipeline's planner and writer over `batches` (which start after `after`), handing
    /// the position after each acknowledged batch to `positions`; returns the number of events
    /// projected once the batches end or one fails for good.
    pub(super) async fn plan_and_write(
        &self,
        pipeline: &Pipeline<P>,
        batches: Batches,
        after: Position,
        positions: watch::Sender<Option<Position>>,
        progress: impl FnMut(Position),
    ) -> Result<usize> {
        let (to_writer, planned) = mpsc::channel(1);
        let closed = to_writer.clone();
        // Moved in: the channel closes, ending the writer, once the planner is done.
        let planner = async move {
            tokio::select! {
                () = closed.closed() => {}
                () = self.plan_batches(pipeline, batches, after, to_writer) => {}
            }
        };
        let ((), written) = tokio::join!(
            planner,
            self.write_batches(pipeline, planned, positions, progress)
        );
        written
    }

    /// Plans each batch against the recent ones and hands it to the writer; a failure goes to
    /// the writer too, after the batches before it.
    async fn plan_batches(
        &self,
        pipeline: &Pipeline<P>,
        mut batches: Batches,
        after: Position,
        writer: mpsc::Sender<Result<Planned>>,
    ) {
        let mut recent: VecDeque<Recent> = VecDeque::new();
        let mut before = after;
        loop {
            let batch = match batches.next().await {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(error) => {
                    let _ = writer.send(Err(error)).await;
                    return;
                }
            };
            while recent.len() > KEEP_RECENT && recent.front().is_some_and(Recent::settled) {
                recent.pop_front();
            }
            let start = before;
            before = batch.last().map_or(before, |e| e.position);
            let prepared = match pipeline
                .prepare(batch, Vec::new(), recent.make_contiguous(), start)
                .await
            {
                Ok(prepared) => Arc::new(prepared),
                Err(error) => {
                    let _ = writer.send(Err(error)).await;
                    return;
                }
            };
            let (tx, written) = watch::channel(None);
            recent.push_back(Recent {
                prepared: Arc::clone(&prepared),
                written,
            });
            let planned = Planned {
                prepared,
                written: tx,
            };
            if writer.send(Ok(planned)).await.is_err() {
                return;
            }
        }
    }

    /// Writes the planned batches, up to `max.in.flight.requests` at a time, and hands the
    /// position after each acknowledged one (in order) to the checkpointer.
    async fn write_batches(
        &self,
        pipeline: &Pipeline<P>,
        mut planned: mpsc::Receiver<Result<Planned>>,
        positions: watch::Sender<Option<Position>>,
        mut progress: impl FnMut(Position),
    ) -> Result<usize> {
        let limit = pipeline.config.max_in_flight_requests;
        let mut in_flight = FuturesOrdered::new();
        let mut total = 0;
        let mut open = true;
        // False once the checkpointer stopped (its error is what `project` returns).
        let mut acknowledged = |(events, last): (usize, Option<Position>)| -> bool {
            total += events;
            let Some(last) = last else {
                return true;
            };
            progress(last);
            positions.send(Some(last)).is_ok()
        };
        loop {
            tokio::select! {
                biased;
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    if !acknowledged(done?) {
                        break;
                    }
                }
                next = planned.recv(), if open && in_flight.len() < limit => match next {
                    Some(Ok(batch)) => in_flight.push_back(self.commit(pipeline, batch)),
                    Some(Err(error)) => {
                        // The batches before the failure are written and checkpointed first.
                        while let Some(done) = in_flight.next().await {
                            if !acknowledged(done?) {
                                break;
                            }
                        }
                        return Err(error);
                    }
                    None => open = false,
                },
                else => break,
            }
        }
        Ok(total)
    }

    /// Writes one batch to every sink, says how the sinks took it, and puts its dead letters.
    async fn commit(
        &self,
        pipeline: &Pipeline<P>,
        batch: Planned,
    ) -> Result<(usize, Option<Position>)> {
        let prepared = &batch.prepared;
        let _gate = self.gate.read().await;
        let reports = pipeline.write(prepared).await?;
        let as_planned = Pipeline::<P>::as_planned(&reports);
        // Before the batch counts as written, so a batch planned after it finds its documents.
        pipeline.remember(prepared, &as_planned);
        batch.written.send_replace(Some(as_planned));
        let applied = pipeline.put_letters(prepared, &reports).await?;
        tracing::debug!(
            projection = self.name(),
            events = prepared.batch.len(),
            changes = applied.changes,
            dead_letters = applied.dead_letters,
            "Batch written."
        );
        Ok((prepared.batch.len(), prepared.last()))
    }

    /// Saves the latest acknowledged position whenever it moved, until the writer is done;
    /// then the last one.
    pub(super) async fn save_checkpoints(
        &self,
        mut acknowledged: watch::Receiver<Option<Position>>,
    ) -> Result<()> {
        let mut saved: Option<Position> = None;
        loop {
            let more = acknowledged.changed().await.is_ok();
            let latest = *acknowledged.borrow_and_update();
            if let Some(latest) = latest.filter(|l| saved != Some(*l)) {
                let _gate = self.gate.read().await;
                self.store.save_checkpoint(&self.checkpoint, latest).await?;
                tracing::debug!(projection = self.name(), checkpoint = %latest, "Checkpoint committed.");
                saved = Some(latest);
            }
            if !more {
                return Ok(());
            }
        }
    }
}
