//! Rebuild without downtime: replay the history into a new Elasticsearch index while the alias
//! keeps serving the old one, catch up, switch the alias atomically, drop the old index.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use keel_core::EventStore;
use keel_core::Position;
use keel_core::store::CheckpointStore;

use crate::Result;
use crate::projection::Projection;
use crate::runner::ProjectionRunner;
use crate::sinks::elasticsearch::{ElasticsearchSink, ElasticsearchSinkConfig};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The index the alias pointed to before (now deleted).
    pub old_index: Option<String>,
    /// The index it points to now.
    pub new_index: String,
    /// Events replayed into the new index.
    pub events: usize,
}

/// Rebuilds the Elasticsearch read model of `live`'s projection behind the alias
/// `config.index`, without downtime:
///
/// 1. creates a new index `<alias>-g<millis>` with `config.mapping`;
/// 2. replays the whole history into it with a runner of its own (checkpoint
///    `<live checkpoint>:rebuild`), showing events replayed, rate and ETA when `progress`;
///    meanwhile `live` goes on writing to the alias, so readers keep the old, complete model;
/// 3. holds `live` still (its in-flight batch finishes first), catches the new index up to the
///    store's head, refreshes it, and switches the alias in one atomic `_aliases` call;
/// 4. lets `live` go on (it writes its next batches to the new index; versions make repeats
///    harmless) and deletes the old index.
///
/// `live` must write to Elasticsearch through the alias (a sink built with
/// [`ElasticsearchSink::build_behind_alias`]); its own checkpoint is left as it is.
pub async fn rebuild_elasticsearch<S, P>(
    live: &ProjectionRunner<S, P>,
    config: ElasticsearchSinkConfig,
    progress: bool,
) -> Result<RebuildReport>
where
    S: EventStore + CheckpointStore + Clone,
    P: Projection,
{
    let current = ElasticsearchSink::build_behind_alias(config.clone()).await?;
    let old_index = current.alias_target().await?;
    let new_index = current.next_generation();
    let target = ElasticsearchSink::build(ElasticsearchSinkConfig {
        index: new_index.clone(),
        ..config
    })
    .await?;
    let rebuild = live.sibling("rebuild", vec![Arc::new(target)]);
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
        current
            .switch_alias(old_index.as_deref(), &new_index)
            .await?;
    }
    bar.finish_with_message(format!("{} rebuilt into {new_index}", live.name()));
    if let Some(old) = &old_index {
        current.delete_index(old).await?;
    }
    tracing::info!(projection = live.name(), old_index = old_index.as_deref().unwrap_or(""), new_index = %new_index, events, "Rebuild switched.");
    Ok(RebuildReport {
        old_index,
        new_index,
        events,
    })
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
