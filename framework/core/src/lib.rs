//! Keel's event-sourced core.
//!
//! This crate will hold events, aggregates, the event store (PostgreSQL, SQLite, in-memory),
//! snapshots, replay, the outbox relay and the tracing glue that every other Keel crate stands
//! on. It is being built as its own issue; today it is an empty crate in the workspace.
