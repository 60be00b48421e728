//! Keel: typed, traceable event-driven systems that grow out of an existing database.
//!
//! `keel` is the one dependency users add. It re-exports the core and, behind features,
//! the other Keel crates:
//!
//! | feature       | crate              | what it brings                                   |
//! |---------------|--------------------|--------------------------------------------------|
//! | (always)      | `keel-core`        | events, aggregates, event store, tracing glue     |
//! | `macros`      | `keel-macros`      | derive macros (default)                          |
//! | `capture`     | `keel-capture`     | MariaDB/MySQL binlog CDC, Debezium-compatible     |
//! | `projections` | `keel-projections` | Elasticsearch and Redis read models               |
//! | `sagas`       | `keel-sagas`       | orchestrated and choreographed sagas              |
//! | `full`        | all of the above   |                                                  |

pub use keel_core::*;

/// `#[derive(Event)]`: implements [`DomainEvent`] for an enum of past-tense variants.
#[cfg(feature = "macros")]
pub use keel_macros::Event;

/// `#[derive(Projection)]`: implements `keel::projections::ReadModel` for a read-model struct
/// (feature `projections`).
#[cfg(feature = "macros")]
pub use keel_macros::Projection;

/// `#[derive(Saga)]`: implements `keel::sagas::Saga` for a struct of saga data (feature `sagas`).
#[cfg(feature = "macros")]
pub use keel_macros::Saga;

/// `#[derive(Choreography)]`: implements `keel::sagas::choreography::Choreographed` for a
/// participant of a choreographed saga (feature `sagas`).
#[cfg(feature = "macros")]
pub use keel_macros::Choreography;

/// Change data capture (feature `capture`).
#[cfg(feature = "capture")]
pub use keel_capture as capture;
/// Projections (feature `projections`).
#[cfg(feature = "projections")]
pub use keel_projections as projections;
/// Sagas (feature `sagas`).
#[cfg(feature = "sagas")]
pub use keel_sagas as sagas;
