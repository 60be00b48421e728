//! The participant side of a choreography: the trait `#[derive(Choreography)]` implements, the
//! trigger a handler receives and the outcome it returns.

use std::future::Future;
use std::pin::Pin;

use keel_core::subscription::HandlerError;
use keel_core::{DomainEvent, Metadata, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

use super::dead_letter::Poison;
use super::definition::ChoreographyStep;

/// Whether a handler runs a step or its compensation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReactionKind {
    /// The step itself.
    Step,
    /// The step's compensation.
    Compensation,
}

impl ReactionKind {
    /// `step` or `compensation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Compensation => "compensation",
        }
    }
}

/// The future a participant's [`Choreographed::react`] returns.
pub type ReactionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Outcome, HandlerError>> + Send + 'a>>;

/// A participant of a choreography: its steps (each with the event it reacts to, what it
/// emits on success and on failure, and its compensation) and their handlers.
///
/// `#[derive(Choreography)]` writes this impl from attributes; a hand-written one works the
/// same. [`Reactor`](super::Reactor) runs it as a subscription handler.
pub trait Choreographed: Send + Sync + 'static {
    /// The choreography it takes part in.
    const CHOREOGRAPHY: &'static str;
    /// Its name: each step's `participant`, and part of the ids of the events emitted for it.
    const PARTICIPANT: &'static str;

    /// Its steps, as declared.
    fn steps() -> Vec<ChoreographyStep>;

    /// Runs the handler of `step`'s action (`kind` [`ReactionKind::Step`]) or compensation
    /// for `trigger`. A step or kind with no handler is an error.
    fn react<'a>(
        &'a self,
        step: &'a str,
        kind: ReactionKind,
        trigger: &'a Trigger<'_>,
    ) -> ReactionFuture<'a>;
}

/// The event a reaction answers, with the metadata its own events must carry.
#[derive(Debug, Clone)]
pub struct Trigger<'e> {
    event: &'e RecordedEvent,
    metadata: Metadata,
}

impl<'e> Trigger<'e> {
    /// The trigger `event`: the reaction's events carry its correlation id and have it as
    /// their cause.
    pub fn new(event: &'e RecordedEvent) -> Self {
        Self {
            event,
            metadata: Metadata {
                correlation_id: event.metadata.correlation_id,
                causation_id: Some(event.event_id),
                ..Metadata::default()
            },
        }
    }

    /// The event.
    pub fn event(&self) -> &'e RecordedEvent {
        self.event
    }

    /// The event's type.
    pub fn event_type(&self) -> &'e str {
        &self.event.event_type
    }

    /// The event's stream.
    pub fn stream_id(&self) -> &'e str {
        &self.event.stream_id
    }

    /// The instance's correlation id.
    pub fn correlation_id(&self) -> Option<Uuid> {
        self.event.metadata.correlation_id
    }

    /// The metadata for the events the reaction records itself (e.g. through
    /// `Repository::execute`): the correlation id, and the trigger as cause. The trace context
    /// is left empty, so the repository takes the reaction's span.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The event decoded as `E`; a [`Poison`] error naming the type, version and position
    /// when it does not decode (the reactor dead-letters it rather than retrying).
    pub fn decode<E: DomainEvent>(&self) -> Result<E, HandlerError> {
        E::from_payload_ref(&self.event.event_type, &self.event.payload).map_err(|e| {
            Poison::new(format!(
                "`{}` (schema version {}) at position {} of `{}` does not decode: {e}",
                self.event.event_type,
                self.event.schema_version,
                self.event.position,
                self.event.stream_id
            ))
            .into()
        })
    }

    /// The error for a step or kind the participant has no handler for (used by the derive):
    /// a [`Poison`], since trying again cannot help.
    pub fn no_handler(participant: &str, step: &str, kind: ReactionKind) -> HandlerError {
        Poison::new(format!(
            "participant `{participant}` has no {} handler for step `{step}`",
            kind.as_str()
        ))
        .into()
    }
}

/// What a reaction's handler did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded: the reactor appends the declared success event (a step's `emits`, or its
    /// compensation's `emits`) with this payload.
    Succeeded {
        /// The stream to append to.
        stream_id: String,
        /// The event's payload.
        payload: Value,
    },
    /// The step failed: the reactor appends its declared `fails` event.
    Failed {
        /// The stream to append to.
        stream_id: String,
        /// The event's payload.
        payload: Value,
    },
    /// The handler appended its events itself (e.g. the `events` of `Repository::execute`,
    /// with [`Trigger::metadata`]), or none because there was nothing to do. The reactor checks
    /// that those of the participant's declared types are the ones this reaction declares.
    Recorded(Vec<RecordedEvent>),
}

impl Outcome {
    /// Success: the declared success event, with `payload`, on `stream_id`.
    pub fn success(stream_id: impl Into<String>, payload: Value) -> Self {
        Self::Succeeded {
            stream_id: stream_id.into(),
            payload,
        }
    }

    /// Failure: the step's declared failure event, with `payload`, on `stream_id`.
    pub fn failure(stream_id: impl Into<String>, payload: Value) -> Self {
        Self::Failed {
            stream_id: stream_id.into(),
            payload,
        }
    }

    /// The handler recorded these events itself.
    pub fn recorded(events: Vec<RecordedEvent>) -> Self {
        Self::Recorded(events)
    }

    /// Nothing to do (the outcome was recorded before, e.g. before a crash).
    pub fn nothing() -> Self {
        Self::Recorded(Vec::new())
    }
}
