//! The trait every domain event enum implements, usually through `#[derive(Event)]`.

use serde_json::Value;

/// Why a payload could not be turned back into a domain event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The type name is not one of this enum's events.
    #[error("unknown event type")]
    UnknownType,
    /// The payload does not fit the event's fields.
    #[error(transparent)]
    Payload(#[from] serde_json::Error),
}

/// A domain event: a past-tense enum variant with a stable type name and a schema version.
///
/// Usually derived with `#[derive(keel::Event)]` next to serde's `Serialize`/`Deserialize`;
/// each variant's type name defaults to its identifier and its version to 1
/// (`#[event(name = "...", version = N)]` to change them). The payload stored for an event is
/// the variant's content without the type, which is stored beside it.
pub trait DomainEvent: Sized + Send + Sync + 'static {
    /// The stable type name of this event.
    fn event_type(&self) -> &'static str;

    /// The schema version this code writes (and reads) for this event's type.
    fn event_version(&self) -> u32;

    /// Every event type of this enum with its current schema version.
    fn event_types() -> &'static [(&'static str, u32)];

    /// The payload to store: the variant's content, without the type name.
    fn to_payload(&self) -> Result<Value, serde_json::Error>;

    /// Rebuilds the event from its type name and a payload at the current schema version.
    fn from_payload(event_type: &str, payload: Value) -> Result<Self, DecodeError>;

    /// Rebuilds the event from a payload it borrows, at the current schema version: what reads
    /// use when no upcaster had to change the payload. The default copies the payload and
    /// calls [`DomainEvent::from_payload`]; the derive reads it in place.
    fn from_payload_ref(event_type: &str, payload: &Value) -> Result<Self, DecodeError> {
        Self::from_payload(event_type, payload.clone())
    }

    /// The current schema version of `event_type`, if this enum has that type.
    fn current_version(event_type: &str) -> Option<u32> {
        Self::event_types()
            .iter()
            .find(|(name, _)| *name == event_type)
            .map(|(_, version)| *version)
    }
}
