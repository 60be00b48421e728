//! Events: the domain event trait, the envelope they are stored in, and their metadata.

mod domain;
mod envelope;
mod metadata;
mod upcast;

pub use domain::{DecodeError, DomainEvent};
pub use envelope::{NewEvent, RecordedEvent};
pub use metadata::{Metadata, SourcePosition, deterministic_id};
pub use upcast::{Upcaster, Upcasters};
