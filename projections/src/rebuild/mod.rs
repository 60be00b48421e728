//! Rebuild without downtime: replay the history into a new generation of the read model while
//! readers keep the old one, hold the live runner, catch up, switch atomically, drop the old
//! generation.
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`RebuildReport`] and the phases every rebuild shares (replay, hold, switch) |
//! | `elasticsearch.rs` | [`rebuild_elasticsearch`]: a new index behind an alias |
//! | `redis.rs` | [`rebuild_redis`]: a new key generation behind a pointer |

mod elasticsearch;
mod redis;

use std::future::Future;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position};

pub use elasticsearch::rebuild_elasticsearch;
pub use redis::rebuild_redis;

use crate::Result;
use crate::projection::Projection;
use crate::runner::ProjectionRunner;
use crate::sink::Sink;

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The generation readers saw before (now deleted): the index the alias pointed to
    /// (Elasticsearch) or the key generation the pointer named (Redis, `g<millis>`).
    pub old_index: Option<String>,
    /// The generation readers see now: the index (Elasticsearch) or key generation (Redis).
    pub new_index: String,
    /// Events replayed into the new generation.
    pub events: usize,
}

/// The phases every rebuild shares: replays the whole history into `target` with a runner of
/// its own (checkpoint `<live checkpoint>:rebuild`, reset to the start), showing progress when
/// asked; then holds `live` still (its in-flight batch finishes first), catches `target` up to
/// the store's head and runs `switch` before letting `live` go on. Returns the events replayed.
pub(crate) async fn replay_and_switch<S, P, F, Fut>(
    live: &ProjectionRunner<S, P>,
    target: Arc<dyn Sink>,
    progress: bool,
    generation: &str,
    switch: F,
) -> Result<usize>
where
    S: EventStore + CheckpointStore + Clone,
    P: Projection,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let rebuild = live.sibling("rebuild", vec![target]);
    rebuild
        .store()
        .save_checkpoint(rebuild.checkpoint_name(), Position::START)
        .await?;
    let head = rebuild.store().head().await?;
    let bar = progress_bar(progress, head.seq, live.name());
    let mut events = rebuild.catch_up_with(|at| bar.set_position(at.seq)).await?;
    {
        let _held = live.hold().await;
        events += rebuild.catch_up_with(|at| bar.set_position(at.seq)).await?;
        switch().await?;
        live.switched();
    }
    bar.finish_with_message(format!("{} rebuilt into {generation}", live.name()));
    Ok(events)
}

fn progress_bar(visible: bool, len: u64, name: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(format!("rebuilding {name}"));
    bar
}
