//! Projections: read models kept current from the event store's global order.
//!
//! A [`Projection`] says which events it reads, which document an event changes (its key), and
//! how ([`DocChange`]: upsert, delete, unchanged). A [`ProjectionRunner`] reads the store from the
//! projection's checkpoint, batches by size and time ([`RunnerConfig`]: `batch.size`,
//! `flush.timeout.ms`), writes each batch to its [`Sink`]s and commits the checkpoint only after
//! every sink acknowledged. Sinks are idempotent and version-guarded (the document version is
//! the stream version of the last event that changed it), so replaying a range changes nothing.
//!
//! | module | what it holds |
//! |---|---|
//! | [`sinks::redis`] | Redis: pipelined writes guarded by a Lua script, TTL, JSON or hash |
//! | [`sinks::elasticsearch`] | Elasticsearch: `_bulk` with external versioning, index and mapping on first use |
//! | [`sinks::MemorySink`] | in memory, same guard, for tests |
//! | [`ReadModel`], [`Declared`] | a projection declared on its document, usually by `#[derive(Projection)]` |
//! | [`rebuild_elasticsearch`], [`rebuild_redis`] | a new index behind an alias, a new key generation behind a pointer: caught up, switched atomically |
//! | `kafka` (feature `kafka`) | `KafkaProjectionRunner`: a Kafka topic of domain events as the source |
//! | [`dead_letter`] | undecodable events and refused documents kept with their reason (`errors.tolerance`) |
//! | [`testing`] | [`ProjectionFixture`](testing::ProjectionFixture): given events, then documents |
//!
//! Several projections run in one process with a [`ProjectionSet`]; each has its own
//! checkpoint, retries and [`Lag`].

mod config;
pub mod dead_letter;
mod error;
#[cfg(feature = "kafka")]
pub mod kafka;
mod projection;
mod read_model;
mod rebuild;
mod runner;
mod set;
mod sink;
pub mod sinks;
pub mod testing;

pub use config::{ErrorTolerance, RunnerConfig};
pub use error::{Error, Result};
pub use projection::{DocChange, Envelope, Projection};
pub use read_model::{Declared, ReadModel};
pub use rebuild::{RebuildReport, rebuild_elasticsearch, rebuild_redis};
pub use runner::{Lag, ProjectionRunner};
pub use set::{ProjectionSet, RunProjection};
pub use sink::{Change, Op, Rejected, Sink, Stored, WriteReport};

/// Paths `#[derive(Projection)]` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}
