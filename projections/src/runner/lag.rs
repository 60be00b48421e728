//! How far a projection is behind the event store.

use chrono::Utc;
use keel_core::EventStore;
use keel_core::Position;

use crate::Result;

/// How far a projection's committed checkpoint is behind the store's head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lag {
    /// Events after the checkpoint (from sequence numbers; an upper bound on PostgreSQL, where
    /// rolled-back appends leave holes).
    pub events_behind: u64,
    /// Age in milliseconds of the oldest event not yet projected; 0 when caught up.
    pub ms_behind: u64,
}

/// The lag of a checkpoint against `store`.
pub(crate) async fn measure(store: &impl EventStore, checkpoint: Position) -> Result<Lag> {
    let head = store.head().await?;
    if head <= checkpoint {
        return Ok(Lag::default());
    }
    let oldest = store.read_all(checkpoint, 1).await?;
    let ms_behind = oldest.first().map_or(0, |event| {
        let age = Utc::now().signed_duration_since(event.recorded_at);
        u64::try_from(age.num_milliseconds()).unwrap_or(0)
    });
    Ok(Lag {
        events_behind: head.seq.saturating_sub(checkpoint.seq).max(1),
        ms_behind,
    })
}
