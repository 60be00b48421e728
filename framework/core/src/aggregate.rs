//! Aggregates: every rule in `handle`, only facts in `apply`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::DomainEvent;

/// An event-sourced entity.
///
/// `handle` decides: it checks every rule against the current state and returns the events
/// that record the decision, or the aggregate's own error (a business rejection). `apply`
/// records: it folds one event into the state and cannot fail, because the event already
/// happened. The state is rebuilt by applying the stream's events to `Default::default()`,
/// or to the newest snapshot (which is why the state is `Serialize`/`Deserialize`).
///
/// ```
/// use keel_core::Aggregate;
/// use keel_core::doc::{Counter, CounterCommand, CounterEvent};
///
/// let counter = Counter::default();
/// let events = counter.handle(CounterCommand::Add(2)).unwrap();
/// assert_eq!(events, vec![CounterEvent::Added { by: 2 }]);
/// assert!(counter.handle(CounterCommand::Add(0)).is_err());
/// ```
pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate type's stable name (stored with snapshots, used in stream ids).
    const TYPE: &'static str;

    /// The schema version of the serialized state. Bump it when the state's shape changes:
    /// snapshots of another version are then ignored, and the state is rebuilt by replay.
    const SNAPSHOT_VERSION: u32 = 1;

    /// What callers ask for.
    type Command: Send;
    /// What happened.
    type Event: DomainEvent;
    /// A business rejection.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides: checks the rules and returns the events to record, or a rejection.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Records: folds one event into the state. Cannot fail.
    fn apply(&mut self, event: &Self::Event);
}
