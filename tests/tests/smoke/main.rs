//! Smoke tests: one per service of the local stack, each proving real use of it from Rust.
//! They need `make up`; an unreachable service fails with "run make up".
#![cfg(feature = "integration")]

mod elasticsearch;
mod jaeger;
mod kafka;
mod mariadb;
mod postgres;
mod redis;

/// A name no other test run uses, for tables, topics, indices and keys.
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
