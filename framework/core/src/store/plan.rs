//! The decision every backend makes the same way before it writes an append: which events are
//! already stored, whether the expected version holds, and whether anything is left to write.

use uuid::Uuid;

use super::{AppendOutcome, ExpectedVersion};
use crate::event::NewEvent;
use crate::{Error, Result};

/// What an append has to do.
pub(crate) enum Plan {
    /// Nothing to write: return this outcome (every event was already stored, or none was given).
    Done(AppendOutcome),
    /// Write `fresh` after the stream's current version.
    Write {
        /// The events not stored yet, in order.
        fresh: Vec<NewEvent>,
        /// The ids skipped because they are stored.
        duplicates: Vec<Uuid>,
    },
}

/// Decides an append to `stream_id`, now at version `actual`. A batch whose events are all
/// stored is a no-op whatever `expected` says (safe re-delivery); otherwise `expected` must hold.
pub(crate) fn plan(
    stream_id: &str,
    expected: ExpectedVersion,
    actual: u64,
    events: Vec<NewEvent>,
    is_stored: impl Fn(&Uuid) -> bool,
) -> Result<Plan> {
    let (fresh, stored): (Vec<_>, Vec<_>) =
        events.into_iter().partition(|e| !is_stored(&e.event_id));
    let duplicates: Vec<Uuid> = stored.into_iter().map(|e| e.event_id).collect();
    let done = |duplicates| {
        Plan::Done(AppendOutcome {
            stream_version: actual,
            appended: vec![],
            duplicates,
        })
    };
    if fresh.is_empty() && !duplicates.is_empty() {
        return Ok(done(duplicates));
    }
    if !expected.matches(actual) {
        return Err(Error::Conflict {
            stream_id: stream_id.to_owned(),
            expected,
            actual,
        });
    }
    if fresh.is_empty() {
        return Ok(done(duplicates));
    }
    Ok(Plan::Write { fresh, duplicates })
}
