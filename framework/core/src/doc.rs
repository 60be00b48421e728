//! Fixtures for doctests.

use chrono::Utc;

use crate::event::{Metadata, NewEvent};

/// A new event with a random id and an empty object payload.
pub fn new_event() -> NewEvent {
    NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: "Noted".into(),
        schema_version: 1,
        payload: serde_json::json!({}),
        metadata: Metadata::default(),
        occurred_at: Utc::now(),
    }
}

/// A counter aggregate for the docs.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    /// The current value.
    pub value: i64,
}

/// The counter's commands.
#[derive(Debug, Clone)]
pub enum CounterCommand {
    /// Add a non-zero amount.
    Add(i64),
}

/// The counter's events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CounterEvent {
    /// An amount was added.
    Added {
        /// The amount.
        by: i64,
    },
}

/// The counter's rejection.
#[derive(Debug, thiserror::Error)]
#[error("adding zero changes nothing")]
pub struct AddedNothing;

impl crate::DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        "Added"
    }
    fn event_version(&self) -> u32 {
        1
    }
    fn event_types() -> &'static [(&'static str, u32)] {
        &[("Added", 1)]
    }
    fn to_payload(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self).map(crate::__private::untag)
    }
    fn from_payload(
        event_type: &str,
        payload: serde_json::Value,
    ) -> Result<Self, crate::event::DecodeError> {
        match event_type {
            "Added" => Ok(serde_json::from_value(crate::__private::tag(
                "Added", false, payload,
            ))?),
            _ => Err(crate::event::DecodeError::UnknownType),
        }
    }
}

impl crate::Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = AddedNothing;

    fn handle(&self, command: CounterCommand) -> Result<Vec<CounterEvent>, AddedNothing> {
        match command {
            CounterCommand::Add(0) => Err(AddedNothing),
            CounterCommand::Add(by) => Ok(vec![CounterEvent::Added { by }]),
        }
    }

    fn apply(&mut self, event: &CounterEvent) {
        match event {
            CounterEvent::Added { by } => self.value += by,
        }
    }
}
