//! The [`Projection`] trait: which events a read model reads, which document an event touches,
//! and how the document changes.

use keel_core::{DomainEvent, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A decoded event with the envelope it was stored in.
#[derive(Debug)]
pub struct Envelope<'a, E> {
    /// The domain event.
    pub event: E,
    /// The stored envelope: stream, stream version, position, times, metadata.
    pub recorded: &'a RecordedEvent,
}

/// What an event does to its document.
#[derive(Debug, Clone, PartialEq)]
pub enum DocChange<D> {
    /// Write this document (created or replaced; a partial update returns the old document with
    /// the changed fields).
    Upsert(D),
    /// Remove the document.
    Delete,
    /// Leave the document as it is.
    Unchanged,
}

/// A read model fed by events: one document per key, versioned by the stream version of the
/// last event that changed it.
///
/// Each document must be fed by a single stream (usually the key is the stream id, the default),
/// since the stream version is what guards the sinks against stale writes.
///
/// ```
/// use keel_core::doc::{CounterEvent};
/// use keel_projections::{DocChange, Envelope, Projection};
///
/// struct Totals;
/// impl Projection for Totals {
///     type Event = CounterEvent;
///     type Doc = i64;
///     fn name(&self) -> &str { "totals" }
///     fn apply(&self, e: &Envelope<'_, CounterEvent>, doc: Option<i64>) -> DocChange<i64> {
///         match e.event {
///             CounterEvent::Added { by } => DocChange::Upsert(doc.unwrap_or(0) + by),
///         }
///     }
/// }
/// assert_eq!(Totals.event_types(), vec!["Added"]);
/// ```
pub trait Projection: Send + Sync + 'static {
    /// The events it reads.
    type Event: DomainEvent;
    /// The document it keeps per key.
    type Doc: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The projection's name: its checkpoint's key and its label in logs and lag.
    fn name(&self) -> &str;

    /// The event type names it handles; other events are skipped (and checkpointed past).
    /// Defaults to every type of [`Self::Event`].
    fn event_types(&self) -> Vec<&'static str> {
        Self::Event::event_types()
            .iter()
            .map(|(name, _)| *name)
            .collect()
    }

    /// The key of the document an event changes. Defaults to the stream id.
    fn key(&self, event: &Envelope<'_, Self::Event>) -> String {
        event.recorded.stream_id.clone()
    }

    /// The change an event makes to its document (`None` when it does not exist).
    fn apply(
        &self,
        event: &Envelope<'_, Self::Event>,
        doc: Option<Self::Doc>,
    ) -> DocChange<Self::Doc>;
}
