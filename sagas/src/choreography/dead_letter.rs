//! Reactions that cannot run: a trigger that can never be handled (a poison event), or one
//! whose reaction kept failing, is dead-lettered as an event in the store, with its reason, and
//! the participant's subscription goes on (ADR 0028).
//!
//! A dead letter is a `ReactionDeadLettered` event on the choreography's stream
//! `keel-choreography-dead-letters-<choreography>`, carrying the trigger's correlation id (so
//! an operator finds it from the instance) and the trigger as its cause. Its id is derived from
//! the participant, step, kind and trigger, so a re-delivered trigger dead-letters it once.

use std::time::Duration;

use keel_core::store::{Position, StreamQuery};
use keel_core::subscription::HandlerError;
use keel_core::{EventStore, RecordedEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::participant::ReactionKind;

/// The type of the events that hold dead letters.
pub const DEAD_LETTER_TYPE: &str = "ReactionDeadLettered";

/// The stream holding the dead letters of `choreography`.
pub fn dead_letter_stream(choreography: &str) -> String {
    format!("keel-choreography-dead-letters-{choreography}")
}

/// The error a reaction returns for a trigger it can never handle (its payload does not
/// decode, no handler exists for it): the reactor dead-letters the trigger at once instead of
/// retrying it. [`Trigger::decode`](super::Trigger::decode) returns one.
///
/// ```
/// use keel_sagas::choreography::Poison;
/// use keel_core::subscription::HandlerError;
///
/// let error: HandlerError = Poison::new("`OrderPlaced` has no `quantity`").into();
/// assert!(Poison::is(&error));
/// assert!(!Poison::is(&HandlerError::from("connection refused")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Poison {
    reason: String,
}

impl Poison {
    /// A poison error saying why.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// Whether `error` is (or wraps, at its top) a [`Poison`].
    pub fn is(error: &HandlerError) -> bool {
        error.downcast_ref::<Self>().is_some()
    }
}

/// How a reactor retries a reaction that failed with an error that is not [`Poison`] (e.g. a
/// store or a service that is down): `attempts` in all, waiting `backoff` after the first
/// failure and twice as long after each next one, up to `max_backoff`. After the last attempt
/// the trigger is dead-lettered with the last error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionRetry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait after the first failure.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for ReactionRetry {
    /// 8 attempts, 100 ms doubling up to 5 s (about 16 s in all).
    fn default() -> Self {
        Self {
            attempts: 8,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl ReactionRetry {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_backoff)
    }
}

/// A dead-lettered reaction, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionDeadLetter {
    /// The choreography.
    pub choreography: String,
    /// The participant whose reaction failed.
    pub participant: String,
    /// Its step.
    pub step: String,
    /// `step` or `compensation`.
    pub kind: String,
    /// The trigger's event id.
    pub trigger_id: Uuid,
    /// The trigger's type.
    pub trigger_type: String,
    /// The trigger's stream.
    pub trigger_stream: String,
    /// The trigger's global position.
    pub trigger_position: Position,
    /// The instance's correlation id, if the trigger had one.
    pub correlation_id: Option<Uuid>,
    /// Attempts made (1 for a poison trigger).
    pub attempts: u32,
    /// Why: the last error.
    pub reason: String,
}

impl ReactionDeadLetter {
    /// The dead letter of `kind` reaction of `participant`'s `step` to `trigger`.
    pub(crate) fn new(
        (choreography, participant): (&str, &str),
        step: &str,
        kind: ReactionKind,
        trigger: &RecordedEvent,
        attempts: u32,
        reason: String,
    ) -> Self {
        Self {
            choreography: choreography.to_owned(),
            participant: participant.to_owned(),
            step: step.to_owned(),
            kind: kind.as_str().to_owned(),
            trigger_id: trigger.event_id,
            trigger_type: trigger.event_type.clone(),
            trigger_stream: trigger.stream_id.clone(),
            trigger_position: trigger.position,
            correlation_id: trigger.metadata.correlation_id,
            attempts,
            reason,
        }
    }
}

/// Every dead letter of `choreography` in `store`, oldest first.
pub async fn dead_letters<S: EventStore>(
    store: &S,
    choreography: &str,
) -> crate::Result<Vec<ReactionDeadLetter>> {
    let events = store
        .read_stream(&dead_letter_stream(choreography), StreamQuery::all())
        .await?;
    events
        .into_iter()
        .filter(|e| e.event_type == DEAD_LETTER_TYPE)
        .map(|e| {
            serde_json::from_value(e.payload).map_err(|error| crate::Error::Store {
                reason: format!(
                    "the dead letter at position {} of `{}` does not decode: {error}",
                    e.position,
                    dead_letter_stream(choreography)
                ),
                retryable: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_longest() {
        let retry = ReactionRetry {
            attempts: 6,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        let waits: Vec<u128> = (1..=4).map(|a| retry.wait_after(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn a_wrapped_message_is_not_poison() {
        let error: HandlerError = format!("{}", Poison::new("x")).into();
        assert!(!Poison::is(&error));
    }
}
