//! Choreographed sagas: participants react to events and emit events, a correlation id ties
//! one instance's events together, and a saga view reconstructs where each instance is (or
//! where it stopped).
//!
//! - A participant declares its steps with `#[derive(Choreography)]` (or implements
//!   [`Choreographed`] by hand): the event each step reacts to, the event it emits on success
//!   and on failure, and its compensation (what triggers it, what it emits).
//! - A [`Reactor`] runs a participant as a keel-core subscription handler. The events a
//!   reaction emits carry the trigger's correlation id, the trigger as cause and the
//!   reaction's trace context; those the reactor appends have deterministic ids, so a
//!   re-delivered trigger appends nothing new. A reaction that fails is retried
//!   ([`ReactionRetry`]); a [`Poison`] trigger, or one whose reaction keeps failing, is
//!   dead-lettered with its reason ([`dead_letters`]) and the participant goes on.
//! - A [`Choreography`] assembles the participants' steps and checks them together; a
//!   [`ChoreographyView`] (in memory, SQLite or PostgreSQL) folds the events of each
//!   correlation id into a [`ChoreographyStatus`] and answers "where is it", "which ones are
//!   stuck in step X for more than N s".

mod dead_letter;
mod definition;
mod participant;
mod reactor;
mod view;

pub use dead_letter::{
    DEAD_LETTER_TYPE, Poison, ReactionDeadLetter, ReactionRetry, dead_letter_stream, dead_letters,
};
pub use definition::{Choreography, ChoreographyStep, Compensation};
pub use participant::{Choreographed, Outcome, ReactionFuture, ReactionKind, Trigger};
pub use reactor::Reactor;
#[cfg(feature = "postgres")]
pub use view::PostgresChoreographyView;
#[cfg(feature = "sqlite")]
pub use view::SqliteChoreographyView;
pub use view::{
    ChoreographyState, ChoreographyStatus, ChoreographyView, MemoryChoreographyView, SeenEvent,
    StatusQuery,
};
