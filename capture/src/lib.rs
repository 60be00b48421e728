//! Change data capture: reads the MariaDB binlog and emits Debezium-compatible change events to
//! Kafka.
//!
//! Configure with a Kafka Connect connector JSON ([`ConnectorConfig::from_file`]) and
//! [`Capture::run`] it, or use the `keel-capture run --config connector.json` binary; to
//! consume the changes in this process without Kafka, [`Capture::into_stream`] gives a
//! [`ChangeStream`] of decoded events with explicit acknowledgements. See
//! `docs/capture.md` for the keys, the mapping of column types, and what is not built yet.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | connector JSON with Debezium property names |
//! | [`preflight`] | server variables and grants checked at start |
//! | [`binlog`] | the binlog stream, MariaDB event decoders, CRC32 checks |
//! | [`mapping`] | column values as Debezium maps them |
//! | [`envelope`] | the change event envelope and its Connect schema |
//! | [`offsets`] | durable resume points |
//! | [`schema`] | the schema history and `tableChanges` |
//! | [`sink`] | the Kafka producer, the in-process consumer, acknowledgement tracking |
//! | [`transforms`] | single message transforms and predicates, by their Kafka Connect names |

pub mod binlog;
mod change_stream;
pub mod config;
pub mod envelope;
mod error;
pub mod mapping;
pub mod offsets;
pub mod preflight;
mod runner;
pub mod schema;
pub mod sink;
mod snapshot;
pub mod transforms;

pub use change_stream::{ChangeEvent, ChangeStream};
pub use config::ConnectorConfig;
pub use error::{Error, Result};
pub use runner::{Capture, RunSummary};

/// The Rust examples of `docs/capture.md` compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/capture.md")]
struct CaptureGuide;
