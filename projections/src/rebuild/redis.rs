//! Rebuilding a Redis read model into a new key generation behind its pointer.

use std::sync::Arc;

use keel_core::EventStore;
use keel_core::store::CheckpointStore;

use super::{RebuildReport, replay_and_switch};
use crate::projection::Projection;
use crate::runner::ProjectionRunner;
use crate::sinks::redis::{RedisSink, RedisSinkConfig};
use crate::{Error, Result};

/// Rebuilds the Redis read model of `live`'s projection under `config.key_prefix`, without
/// downtime:
///
/// 1. picks a new key generation `g<millis>`;
/// 2. replays the whole history into `<prefix>~g<millis>:` with a runner of its own (checkpoint
///    `<live checkpoint>:rebuild`), showing events replayed, rate and ETA when `progress`;
///    meanwhile `live` goes on writing to the generation the pointer names, so readers keep the
///    old, complete model;
/// 3. holds `live` still (its in-flight batch finishes first), catches the new generation up to
///    the store's head, and sets the pointer `<prefix>~generation` to it in one atomic step
///    (compare-and-set: a concurrent rebuild that switched first makes this one fail);
/// 4. lets `live` go on (it follows the pointer; versions make repeats harmless) and deletes the
///    old generation's keys (`SCAN` + `UNLINK` in batches).
///
/// `live` must write to Redis with generations (a sink built with
/// [`RedisSink::build_with_generations`]) and readers must follow the pointer
/// ([`RedisReader`](crate::sinks::redis::RedisReader)); its own checkpoint is left as it is.
/// A rebuild that fails before the switch deletes what it wrote of the new generation.
pub async fn rebuild_redis<S, P>(
    live: &ProjectionRunner<S, P>,
    config: RedisSinkConfig,
    progress: bool,
) -> Result<RebuildReport>
where
    S: EventStore + CheckpointStore + Clone,
    P: Projection,
{
    let current = RedisSink::build_with_generations(config).await?;
    let old = current
        .current_generation()
        .await?
        .ok_or_else(|| Error::Refused {
            sink: "redis",
            reason: format!(
                "generation pointer `{}` disappeared before the rebuild started",
                current.config().generation_key()
            ),
        })?;
    let new = crate::sinks::redis::next_generation(&old);
    let target = current.at_generation(&new);
    let replayed = replay_and_switch(live, Arc::new(target), progress, &new, || {
        current.switch_generation(&old, &new)
    })
    .await;
    let events = match replayed {
        Ok(events) => events,
        Err(error) => {
            discard(&current, &new).await;
            return Err(error);
        }
    };
    let dropped = current.drop_generation(&old).await?;
    tracing::info!(projection = live.name(), old_generation = %old, new_generation = %new, events, dropped_keys = dropped, "Rebuild switched.");
    Ok(RebuildReport {
        old_index: Some(old),
        new_index: new,
        events,
    })
}

/// Deletes a generation a failed rebuild wrote, unless the pointer names it (a switch whose
/// reply was lost may still have happened).
async fn discard(sink: &RedisSink, generation: &str) {
    match sink.current_generation().await {
        Ok(Some(current)) if current == generation => {}
        Ok(_) => {
            if let Err(error) = sink.drop_generation(generation).await {
                tracing::warn!(generation, %error, "Could not delete the generation of a failed rebuild.");
            }
        }
        Err(error) => {
            tracing::warn!(generation, %error, "Could not check the generation of a failed rebuild; its keys stay.");
        }
    }
}
