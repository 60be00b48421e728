//! Shared helpers for Keel's cross-crate tests against the local stack.
//!
//! Every endpoint has a default matching `make up` and can be overridden by an environment
//! variable (`KEEL_MARIADB_URL`, `KEEL_POSTGRES_URL`, `KEEL_REDIS_URL`, `KEEL_KAFKA_BROKERS`,
//! `KEEL_ELASTICSEARCH_URL`, `KEEL_OTLP_ENDPOINT`, `KEEL_JAEGER_QUERY_URL`).

pub mod stack;
