//! The Elasticsearch sink: `_bulk` with external versioning (the document version is the stream
//! version), so a re-delivered or out-of-order older write is refused by Elasticsearch itself
//! (a 409, counted as stale); the index is created with its mapping on first use and an existing
//! index whose mapping disagrees is an error naming the field.
//!
//! | file | role |
//! |---|---|
//! | `config.rs` | [`ElasticsearchSinkConfig`]: url, `index`, `mapping`, `timeout.ms`, `refresh` |
//! | `client.rs` | the HTTP calls and how failures are classified |
//! | `mapping.rs` | index creation and the mapping check |
//! | `alias.rs` | indices behind an alias: target, atomic switch, refresh, delete |
//! | `bulk.rs` | the `_bulk` body and the per-item outcome |
//! | `sink.rs` | [`ElasticsearchSink`] |

mod alias;
mod bulk;
mod client;
mod config;
mod mapping;
mod sink;

pub use config::ElasticsearchSinkConfig;
pub use sink::ElasticsearchSink;
