//! Orchestrated sagas with compensations, durable state, timeouts, retries and crash recovery,
//! and choreographed sagas whose participants react to each other's events.
//!
//! A [`SagaDefinition`] lists ordered [`Step`]s; each sends a command (its action) to a
//! participant, and names a compensation, a reply timeout and a [`RetryPolicy`]. The
//! [`Coordinator`] stores every [`SagaInstance`] before it sends the next command, moves on
//! when a step succeeds, and when one fails (or times out after its retries) compensates the
//! completed steps in reverse order. A compensation that keeps failing parks its saga and
//! counts it in [`MetricsSnapshot::parked`]; nothing is dropped.
//!
//! | module | what it holds |
//! |---|---|
//! | [`definition`] | saga definitions, steps, retry policies |
//! | [`coordinator`] | the orchestrator: start, replies, deadlines, resume, run loop |
//! | [`store`] | [`SagaStore`](store::SagaStore) and [`InboxStore`](store::InboxStore): in memory, SQLite, PostgreSQL |
//! | [`transport`] | the [`Transport`] trait and in-process channels |
//! | `kafka` | command and reply topics on Kafka (feature `kafka`) |
//! | [`participant`] | the participant side: at-most-once handling through an inbox |
//! | [`clock`] | system and manual clocks |
//! | [`choreography`] | participants (`#[derive(Choreography)]`), their reactors, and the saga view of each instance (memory, SQLite, PostgreSQL) |
//! | [`testing`] | `SagaFixture`, `ChoreographyFixture` and the store and view conformance suites |
//!
//! Features: `sqlite` (default), `postgres`, `kafka`, `integration` (tests against `make up`).
//!
//! Commands carry deterministic ids (saga type and id, step, attempt, kind) and an idempotency
//! key that is the same for every attempt of one step, which participants deduplicate by.

pub mod choreography;
pub mod clock;
pub mod coordinator;
pub mod definition;
mod error;
pub mod instance;
#[cfg(feature = "kafka")]
pub mod kafka;
mod machine;
pub mod message;
pub mod metrics;
pub mod participant;
mod saga;
pub mod store;
mod telemetry;
pub mod testing;
pub mod transport;

pub use clock::{Clock, ManualClock, SystemClock};
pub use coordinator::{Coordinator, CoordinatorConfig, ReplyDisposition};
pub use definition::{CommandSpec, RetryPolicy, SagaDefinition, Step};
pub use error::{Error, Result};
pub use instance::{Awaiting, SagaInstance, SagaState};
pub use message::{CommandEnvelope, CommandKind, Reply, ReplyOutcome};
pub use metrics::MetricsSnapshot;
pub use participant::{CommandHandler, Participant, TransactionalHandler};
pub use saga::Saga;
pub use transport::{ChannelTransport, Transport};

/// Paths the derive macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}
