//! A participant of a choreography: reacts to an event by appending one.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use keel_core::store::ExpectedVersion;
use keel_core::subscription::{EventHandler, HandlerError};
use keel_core::{EventStore, Metadata, NewEvent, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

/// Namespace of the ids of events emitted by reactors (UUID v5).
const REACTION_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_656c_5f72_6561_6374_696f_6e00_0001);

/// The event a reactor emits in reaction to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// The stream to append to.
    pub stream_id: String,
    /// The emitted event's type.
    pub event_type: String,
    /// Its payload.
    pub payload: Value,
}

type React = Arc<dyn Fn(&RecordedEvent) -> Option<Emit> + Send + Sync>;

/// A subscription handler that appends the event `react` returns for each event it sees,
/// correlated with, caused by and traced under that event.
pub struct Reactor<S> {
    name: String,
    store: S,
    react: React,
}

impl<S> std::fmt::Debug for Reactor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: EventStore> Reactor<S> {
    /// A reactor named `name` (part of its emitted events' ids) appending to `store`.
    pub fn new(
        name: impl Into<String>,
        store: S,
        react: impl Fn(&RecordedEvent) -> Option<Emit> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            store,
            react: Arc::new(react),
        }
    }

    /// The id of the event this reactor emits for `trigger`.
    pub fn reaction_id(&self, trigger: &RecordedEvent) -> Uuid {
        Uuid::new_v5(
            &REACTION_NAMESPACE,
            format!("{}/{}", self.name, trigger.event_id).as_bytes(),
        )
    }

    /// Reacts to one event; returns whether a new event was appended.
    pub async fn react(&self, trigger: &RecordedEvent) -> crate::Result<bool> {
        let Some(emit) = (self.react)(trigger) else {
            return Ok(false);
        };
        let metadata = Metadata {
            correlation_id: trigger.metadata.correlation_id,
            causation_id: Some(trigger.event_id),
            traceparent: trigger.metadata.traceparent.clone(),
            tracestate: trigger.metadata.tracestate.clone(),
            ..Metadata::default()
        };
        let event = NewEvent {
            event_id: self.reaction_id(trigger),
            event_type: emit.event_type,
            schema_version: 1,
            payload: emit.payload,
            metadata,
            occurred_at: Utc::now(),
        };
        let outcome = self
            .store
            .append(&emit.stream_id, ExpectedVersion::Any, vec![event])
            .await?;
        tracing::debug!(reactor = %self.name, trigger = %trigger.event_id, appended = outcome.appended.len(), "reacted");
        Ok(!outcome.appended.is_empty())
    }
}

#[async_trait]
impl<S: EventStore> EventHandler for Reactor<S> {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.react(event).await.map(|_| ()).map_err(Into::into)
    }
}
