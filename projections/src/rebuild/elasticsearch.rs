//! Rebuilding an Elasticsearch read model into a new index behind its alias.

use std::sync::Arc;

use keel_core::EventStore;
use keel_core::store::CheckpointStore;

use super::{RebuildReport, replay_and_switch};
use crate::Result;
use crate::projection::Projection;
use crate::runner::ProjectionRunner;
use crate::sinks::elasticsearch::{ElasticsearchSink, ElasticsearchSinkConfig};

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
    let events = replay_and_switch(live, Arc::new(target), progress, &new_index, || {
        current.switch_alias(old_index.as_deref(), &new_index)
    })
    .await?;
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
