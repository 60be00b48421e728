//! Following the store with one lane per sink (ADR 0051): the batches are read once and handed
//! to every lane; each lane plans and writes its own sink at its own pace; the checkpoint is
//! the least position every lane acknowledged.

use std::sync::Arc;

use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position};
use tokio::sync::watch;

use super::ProjectionRunner;
use super::pipeline::{Other, Pipeline};
use super::source::Batches;
use crate::Result;
use crate::projection::Projection;

/// Batches a lane may be ahead of the slowest one (besides those it plans and writes) before
/// the slowest one holds the reading back.
const LANE_AHEAD: usize = 32;

impl<S: EventStore + CheckpointStore, P: Projection> ProjectionRunner<S, P> {
    /// Follows the store from `after` with one lane per sink (ADR 0051): the batches are read
    /// once and handed to every lane, each sink's are planned and written on their own, so a
    /// slow sink does not hold back a fast one (up to `LANE_AHEAD` batches), and the
    /// checkpoint is the least position every lane acknowledged. Returns only
    /// when a lane fails for good, after checkpointing what every lane acknowledged.
    pub(super) async fn follow_in_lanes(&self, after: Position) -> Result<()> {
        let sinks = &self.pipeline.sinks;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            sinks.iter().map(|_| watch::channel(Some(after))).unzip();
        let pipelines: Vec<Pipeline<P>> = sinks
            .iter()
            .enumerate()
            .map(|(index, sink)| {
                let others = sinks
                    .iter()
                    .zip(&receivers)
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, (sink, acknowledged))| Other {
                        sink: Arc::clone(sink),
                        acknowledged: acknowledged.clone(),
                    })
                    .collect();
                self.pipeline
                    .lane(Arc::clone(sink), others, index == 0)
                    .remembering(&self.epoch)
            })
            .collect();
        let source = Batches::follow(Arc::clone(&self.store), after, self.pipeline.config.clone());
        let lanes = pipelines
            .iter()
            .zip(senders)
            .zip(source.fan_out(sinks.len(), LANE_AHEAD))
            .map(|((pipeline, positions), batches)| {
                self.plan_and_write(pipeline, batches, after, positions, |_| {})
            });
        let (least, acknowledged) = watch::channel(Some(after));
        let (written, (), saved) = tokio::join!(
            futures::future::try_join_all(lanes),
            least_of(receivers, least),
            self.save_checkpoints(acknowledged)
        );
        saved?;
        written.map(|_| ())
    }
}

/// Hands the least position every lane acknowledged to `least` whenever it moves; returns once
/// a lane is gone (it failed, or the others were dropped with it).
async fn least_of(
    mut lanes: Vec<watch::Receiver<Option<Position>>>,
    least: watch::Sender<Option<Position>>,
) {
    loop {
        let now = lanes
            .iter_mut()
            .map(|lane| *lane.borrow_and_update())
            .min()
            .flatten();
        if now.is_some() && now != *least.borrow() && least.send(now).is_err() {
            return;
        }
        let changes = lanes.iter_mut().map(|lane| Box::pin(lane.changed()));
        if futures::future::select_all(changes).await.0.is_err() {
            return;
        }
    }
}
