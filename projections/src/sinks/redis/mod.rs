//! The Redis sink: one key per document (a JSON string or a hash) plus a version key, written
//! through a small Lua script, one call per chunk of up to 500 changes, that writes each change
//! only when its stored version is older, sets the TTL, and keeps a tombstone version after a
//! delete.
//!
//! | file | role |
//! |---|---|
//! | `config.rs` | [`RedisSinkConfig`]: url, `key.prefix`, `ttl.secs`, `format`, ... |
//! | `script.rs` | the Lua version guard and how a chunk of changes becomes one call |
//! | `codec.rs` | documents to and from Redis values (JSON string or hash fields) |
//! | `sink.rs` | [`RedisSink`]: load with one pipeline, write with one pipeline |
//! | `read.rs` | documents and versions under one key prefix, in one pipeline |
//! | `generation.rs` | key generations: the pointer, its atomic switch, dropping a generation |
//! | `reader.rs` | [`RedisReader`]: reads documents, following the generation pointer |

mod codec;
mod config;
mod generation;
mod read;
mod reader;
mod script;
mod sink;

pub use config::{RedisFormat, RedisSinkConfig};
pub use reader::RedisReader;
pub use sink::RedisSink;

/// A fresh generation name after `current`, for a rebuild.
pub(crate) fn next_generation(current: &str) -> String {
    generation::next_name(Some(current))
}
