//! Smoke tests: one per service of the local stack, each proving real use of it from Rust.
//! They need `make up`; an unreachable service fails with "run make up".
#![cfg(feature = "integration")]

mod elasticsearch;
mod jaeger;
mod kafka;
mod mariadb;
mod postgres;
mod redis;

// Names no other test run uses: `unique(prefix, '_')` (`_`, as MariaDB table names need).
use keel_core::testing::unique;
