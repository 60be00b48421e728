//! Choreographed sagas: participants react to events and emit events, a correlation id ties
//! one instance's events together, and a [`ChoreographyView`] reconstructs where each instance
//! is (or where it stopped).
//!
//! - A [`Reactor`] is a keel-core subscription handler: for each event it may emit one event to
//!   a stream. The emitted event carries the trigger's correlation id, the trigger's id as
//!   causation id and its trace context, and a deterministic id (UUID v5 of the reactor's
//!   name and the trigger's id), so a re-delivered trigger appends nothing new.
//! - A [`Choreography`] names the event types of the happy path, the failures and the
//!   compensations; the [`ChoreographyView`] folds events into a [`ChoreographyStatus`] per
//!   correlation id.

mod definition;
mod reactor;
mod view;

pub use definition::Choreography;
pub use reactor::{Emit, Reactor};
pub use view::{ChoreographyState, ChoreographyStatus, ChoreographyView};
