//! The sinks Keel ships: Redis, Elasticsearch, and an in-memory one for tests.

pub mod elasticsearch;
mod memory;
pub mod redis;

pub use memory::MemorySink;
