//! The Keel e-commerce example, as a library the `ecommerce` binary runs: a legacy MariaDB
//! order database, captured into Kafka, translated into event-sourced aggregates, projected into
//! Elasticsearch and Redis, and fulfilled by sagas. `docs/example.md` walks through the code.
//!
//! | module | role |
//! |---|---|
//! | [`legacy`] | the legacy schema, its starting data, the load generator |
//! | [`domain`] | the aggregates: Order, Customer, Inventory, Payment |
//! | [`roles`] | one process per role: capture, translate, project, saga, inventory, payment |
//! | [`read_models`] | the read models (`#[derive(Projection)]`) |
//! | [`sagas`] | the sagas (`#[derive(Saga)]`) |
//! | [`demo`] | `make demo`: setup, roles, load, checks, report |

// A command-line program: its JSON reports and replays go to stdout.
#![allow(clippy::print_stdout)]

pub mod cli;
pub mod demo;
pub mod domain;
pub mod legacy;
pub mod read_models;
pub mod replay;
pub mod roles;
pub mod sagas;
pub mod settings;
pub mod setup;
pub mod store;

/// Errors of the example's commands: each says what failed and where.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
