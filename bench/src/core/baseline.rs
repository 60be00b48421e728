//! The baseline of the append benchmarks: a plain (logged) table with the event store's
//! columns and the keys every event table needs, written with raw sqlx.

use std::sync::Arc;

use keel_core::NewEvent;
use sqlx::{AssertSqlSafe, PgPool};

use crate::BenchError;

/// The baseline: a plain (logged) table with the event store's columns, written with raw sqlx.
pub(super) struct Baseline {
    insert_batch: Arc<str>,
    insert_one: Arc<str>,
}

impl Baseline {
    /// Creates the table (`keel_bench_raw`, in the run's database).
    pub(super) async fn create(raw: &PgPool) -> Result<Self, BenchError> {
        let table = "keel_bench_raw";
        // The columns of keel_events, with the keys every event table needs (the event id, one
        // event per stream version); no outbox, stream table, lock or notification. Payloads
        // and metadata go as text, cast to `json` (its column type) by the server.
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {table} ( \
               event_id       UUID        PRIMARY KEY, \
               stream_id      TEXT        NOT NULL, \
               stream_version BIGINT      NOT NULL, \
               event_type     TEXT        NOT NULL, \
               schema_version INTEGER     NOT NULL, \
               payload        JSON        NOT NULL, \
               metadata       JSON        NOT NULL, \
               occurred_at    TIMESTAMPTZ NOT NULL, \
               recorded_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), \
               UNIQUE (stream_id, stream_version))"
        )))
        .execute(raw)
        .await?;
        let insert_batch = format!(
            "INSERT INTO {table} (event_id, stream_id, stream_version, event_type, \
               schema_version, payload, metadata, occurred_at) \
             SELECT u.event_id, $1, u.stream_version, u.event_type, u.schema_version, \
               u.payload, u.metadata, u.occurred_at \
             FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::text[]::json[], \
               $7::text[]::json[], $8::timestamptz[]) \
               AS u(event_id, stream_version, event_type, schema_version, payload, metadata, occurred_at)"
        );
        let insert_one = format!(
            "INSERT INTO {table} (event_id, stream_id, stream_version, event_type, \
               schema_version, payload, metadata, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8)"
        );
        Ok(Self {
            insert_batch: insert_batch.into(),
            insert_one: insert_one.into(),
        })
    }

    /// One batch to a new stream: a single `INSERT … SELECT FROM UNNEST` (its own transaction).
    pub(super) async fn insert_batch(
        &self,
        raw: &PgPool,
        stream_id: &str,
        events: &[NewEvent],
    ) -> Result<(), BenchError> {
        let n = events.len();
        let mut ids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut schema_versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadatas = Vec::with_capacity(n);
        let mut occurred = Vec::with_capacity(n);
        for (v, e) in (1_i64..).zip(events) {
            ids.push(e.event_id);
            versions.push(v);
            types.push(e.event_type.as_str());
            schema_versions.push(i32::try_from(e.schema_version)?);
            payloads.push(serde_json::to_string(&e.payload)?);
            metadatas.push(serde_json::to_string(&e.metadata)?);
            occurred.push(e.occurred_at);
        }
        sqlx::query(AssertSqlSafe(Arc::clone(&self.insert_batch)))
            .bind(stream_id)
            .bind(&ids)
            .bind(&versions)
            .bind(&types)
            .bind(&schema_versions)
            .bind(&payloads)
            .bind(&metadatas)
            .bind(&occurred)
            .execute(raw)
            .await?;
        Ok(())
    }

    /// One event, as a single-row `INSERT` in its own transaction.
    pub(super) async fn insert_one(
        &self,
        raw: &PgPool,
        stream_id: &str,
        version: u64,
        event: &NewEvent,
    ) -> Result<(), BenchError> {
        let mut tx = raw.begin().await?;
        sqlx::query(AssertSqlSafe(Arc::clone(&self.insert_one)))
            .bind(event.event_id)
            .bind(stream_id)
            .bind(i64::try_from(version)?)
            .bind(event.event_type.as_str())
            .bind(i32::try_from(event.schema_version)?)
            .bind(serde_json::to_string(&event.payload)?)
            .bind(serde_json::to_string(&event.metadata)?)
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
