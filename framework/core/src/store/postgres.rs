//! The PostgreSQL backend.
//!
//! The global order is (`tx_id`, `seq`): each event records the id of the transaction that
//! appended it (`xid8`), and `read_all` returns only events of transactions older than the
//! oldest one still in flight (`pg_snapshot_xmin(pg_current_snapshot())`). Every transaction
//! that could still commit has an id at or above that horizon, so it sorts after everything
//! already read: a subscriber never skips an event that commits late. Appends to one stream are
//! serialized by a transaction-scoped advisory lock taken before the transaction gets its id, so
//! the per-stream order agrees with the global order.
//!
//! Consequence to know in operations: a long-running transaction anywhere in the database holds
//! the horizon back, and subscribers wait for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use super::plan::{Plan, plan};
use super::sql::{to_i64, to_u64};
use super::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, Outbox, OutboxEntry, Position,
    Snapshot, SnapshotStore, StreamQuery,
};
use crate::event::{Metadata, NewEvent, RecordedEvent};
use crate::{Error, Result};

const NOTIFY_CHANNEL: &str = "keel_events";

/// How many versions one outbox row can address: entry ids are `row id * span + offset`.
const OUTBOX_RANGE_SPAN: u64 = 1 << 20;

const EVENT_COLUMNS: &str = "e.seq, e.tx_id::text::bigint AS tx, e.event_id, e.stream_id, \
     e.stream_version, e.event_type, e.schema_version, e.payload, e.metadata, e.occurred_at, \
     e.recorded_at";

/// An event store in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    wakeup: Arc<Wakeup>,
}

#[derive(Debug, Default)]
struct Wakeup {
    notify: Notify,
    listener: OnceCell<()>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and applies Keel's
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool, applying Keel's migrations.
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.dangerous_set_table_name("keel_migrations");
        migrator.run(&pool).await?;
        Ok(Self {
            pool,
            wakeup: Arc::default(),
        })
    }

    /// The pool, for handlers that write to the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Records a checkpoint inside the caller's transaction, so a handler's writes and its
    /// checkpoint commit together.
    pub async fn save_checkpoint_in(
        conn: &mut sqlx::PgConnection,
        name: &str,
        position: Position,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO keel_checkpoints (name, commit_pos, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET commit_pos = EXCLUDED.commit_pos, seq = EXCLUDED.seq, \
             updated_at = now()",
        )
        .bind(name)
        .bind(to_i64(position.commit))
        .bind(to_i64(position.seq))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Starts (once) the task that turns `NOTIFY keel_events` into wake-ups.
    async fn ensure_listener(&self) {
        let pool = self.pool.clone();
        let wakeup = Arc::clone(&self.wakeup);
        self.wakeup
            .listener
            .get_or_init(|| async move {
                tokio::spawn(async move {
                    let Ok(mut listener) = PgListener::connect_with(&pool).await else {
                        return;
                    };
                    if listener.listen(NOTIFY_CHANNEL).await.is_err() {
                        return;
                    }
                    // PgListener reconnects by itself; an error here means the pool closed.
                    while listener.recv().await.is_ok() {
                        wakeup.notify.notify_waiters();
                    }
                });
            })
            .await;
    }
}

fn decode_row(row: &PgRow) -> Result<RecordedEvent> {
    let stream_id: String = row.try_get("stream_id")?;
    let stream_version = to_u64(row.try_get("stream_version")?);
    let position = Position::new(to_u64(row.try_get("tx")?), to_u64(row.try_get("seq")?));
    let event_type: String = row.try_get("event_type")?;
    let schema_version = u32::try_from(row.try_get::<i32, _>("schema_version")?).unwrap_or(0);
    let Json(metadata): Json<serde_json::Value> = row.try_get("metadata")?;
    let metadata: Metadata =
        serde_json::from_value(metadata).map_err(|source| Error::CorruptPayload {
            event_type: event_type.clone(),
            schema_version,
            stream_id: stream_id.clone(),
            stream_version,
            position,
            source,
        })?;
    let Json(payload): Json<serde_json::Value> = row.try_get("payload")?;
    Ok(RecordedEvent {
        event_id: row.try_get("event_id")?,
        stream_version,
        position,
        occurred_at: row.try_get("occurred_at")?,
        recorded_at: row.try_get("recorded_at")?,
        schema_version,
        payload,
        metadata,
        stream_id,
        event_type,
    })
}

#[async_trait]
impl EventStore for PostgresStore {
    #[tracing::instrument(name = "keel.append", skip_all, fields(stream_id = %stream_id, events = events.len()))]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        let mut tx = self.pool.begin().await?;
        // Serialize appends to this stream before the transaction is given its id.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(stream_id)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let stored: Vec<Uuid> =
            sqlx::query_scalar("SELECT event_id FROM keel_events WHERE event_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
        let actual: u64 =
            sqlx::query_scalar("SELECT version FROM keel_streams WHERE stream_id = $1")
                .bind(stream_id)
                .fetch_optional(&mut *tx)
                .await?
                .map_or(0, to_u64);
        let (fresh, duplicates) = match plan(stream_id, expected, actual, events, |id| {
            stored.contains(id)
        })? {
            Plan::Done(outcome) => {
                tx.commit().await?;
                return Ok(outcome);
            }
            Plan::Write { fresh, duplicates } => (fresh, duplicates),
        };

        let n = fresh.len();
        let mut event_ids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut schema_versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadatas = Vec::with_capacity(n);
        let mut occurred = Vec::with_capacity(n);
        for (i, e) in fresh.iter().enumerate() {
            event_ids.push(e.event_id);
            versions.push(to_i64(actual + 1 + i as u64));
            types.push(e.event_type.as_str());
            schema_versions.push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
            payloads.push(Json(&e.payload));
            metadatas.push(Json(&e.metadata));
            occurred.push(super::time::truncate(e.occurred_at));
        }
        let rows = sqlx::query(
            "WITH inserted AS ( \
               INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, \
                 schema_version, payload, metadata, occurred_at) \
               SELECT u.event_id, $1, u.stream_version, u.event_type, u.schema_version, \
                 u.payload, u.metadata, u.occurred_at \
               FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::jsonb[], \
                 $7::jsonb[], $8::timestamptz[]) \
                 AS u(event_id, stream_version, event_type, schema_version, payload, metadata, occurred_at) \
               ORDER BY u.stream_version \
               RETURNING seq, tx_id, stream_version, recorded_at) \
             SELECT seq, tx_id::text::bigint AS tx, stream_version, recorded_at FROM inserted \
             ORDER BY stream_version",
        )
        .bind(stream_id)
        .bind(&event_ids)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&payloads)
        .bind(&metadatas)
        .bind(&occurred)
        .fetch_all(&mut *tx)
        .await?;
        let stream_version = actual + n as u64;
        // One outbox row per append (per 2^20 events, the span an entry id can address).
        let mut first = actual + 1;
        while first <= stream_version {
            let last = stream_version.min(first + OUTBOX_RANGE_SPAN - 1);
            sqlx::query(
                "INSERT INTO keel_outbox_ranges (stream_id, base_version, next_version, last_version) \
                 VALUES ($1, $2, $2, $3)",
            )
            .bind(stream_id)
            .bind(to_i64(first))
            .bind(to_i64(last))
            .execute(&mut *tx)
            .await?;
            first = last + 1;
        }
        sqlx::query(
            "INSERT INTO keel_streams (stream_id, version) VALUES ($1, $2) \
             ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version",
        )
        .bind(stream_id)
        .bind(to_i64(stream_version))
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;

        let mut appended = Vec::with_capacity(n);
        for (event, row) in fresh.into_iter().zip(rows.iter()) {
            appended.push(RecordedEvent {
                event_id: event.event_id,
                stream_id: stream_id.to_owned(),
                stream_version: to_u64(row.try_get("stream_version")?),
                position: Position::new(to_u64(row.try_get("tx")?), to_u64(row.try_get("seq")?)),
                occurred_at: super::time::truncate(event.occurred_at),
                recorded_at: row.try_get("recorded_at")?,
                event_type: event.event_type,
                schema_version: event.schema_version,
                payload: event.payload,
                metadata: event.metadata,
            });
        }
        Ok(AppendOutcome {
            stream_version,
            appended,
            duplicates,
        })
    }

    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM keel_events e WHERE e.stream_id = $1 AND e.stream_version >= $2 \
             AND ($3::timestamptz IS NULL OR e.recorded_at <= $3) \
             ORDER BY e.stream_version LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(to_i64(query.from_version))
            .bind(query.recorded_until)
            .bind(query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM keel_events e WHERE (e.tx_id, e.seq) > ($1::text::xid8, $2) \
             AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY e.tx_id, e.seq LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.commit.to_string())
            .bind(to_i64(after.seq))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    async fn contains_event(&self, event_id: Uuid) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM keel_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM keel_streams WHERE stream_id = $1")
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(version.map_or(0, to_u64))
    }

    async fn head(&self) -> Result<Position> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, seq FROM keel_events \
             WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY tx_id DESC, seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(Position::START, |(c, s)| {
            Position::new(to_u64(c), to_u64(s))
        }))
    }

    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        self.ensure_listener().await;
        let notified = self.wakeup.notify.notified();
        if self.head().await.is_ok_and(|head| head > after) {
            return;
        }
        let _ = tokio::time::timeout(timeout, notified).await;
    }
}

#[async_trait]
impl SnapshotStore for PostgresStore {
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        sqlx::query(
            "INSERT INTO keel_snapshots (stream_id, stream_version, aggregate_type, schema_version, \
             last_recorded_at, state) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (stream_id, stream_version) DO UPDATE SET aggregate_type = EXCLUDED.aggregate_type, \
             schema_version = EXCLUDED.schema_version, last_recorded_at = EXCLUDED.last_recorded_at, \
             state = EXCLUDED.state",
        )
        .bind(&snapshot.stream_id)
        .bind(to_i64(snapshot.stream_version))
        .bind(&snapshot.aggregate_type)
        .bind(i32::try_from(snapshot.schema_version).unwrap_or(i32::MAX))
        .bind(snapshot.last_recorded_at)
        .bind(Json(&snapshot.state))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_snapshot(
        &self,
        stream_id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT stream_version, aggregate_type, schema_version, last_recorded_at, state \
             FROM keel_snapshots WHERE stream_id = $1 \
             AND ($2::timestamptz IS NULL OR last_recorded_at <= $2) \
             ORDER BY stream_version DESC LIMIT 1",
        )
        .bind(stream_id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let Json(state): Json<serde_json::Value> = row.try_get("state")?;
        Ok(Some(Snapshot {
            stream_id: stream_id.to_owned(),
            aggregate_type: row.try_get("aggregate_type")?,
            stream_version: to_u64(row.try_get("stream_version")?),
            schema_version: u32::try_from(row.try_get::<i32, _>("schema_version")?).unwrap_or(0),
            last_recorded_at: row.try_get("last_recorded_at")?,
            state,
        }))
    }
}

#[async_trait]
impl CheckpointStore for PostgresStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT commit_pos, seq FROM keel_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(c, s)| Position::new(to_u64(c), to_u64(s))))
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::save_checkpoint_in(&mut conn, name, position).await
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, o.id * {OUTBOX_RANGE_SPAN} + (e.stream_version - o.base_version) \
             AS outbox_id FROM keel_outbox_ranges o JOIN keel_events e ON e.stream_id = o.stream_id \
             AND e.stream_version BETWEEN o.next_version AND o.last_version \
             ORDER BY o.id, e.stream_version LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxEntry {
                    id: row.try_get("outbox_id")?,
                    event: decode_row(row)?,
                })
            })
            .collect()
    }

    /// Entries are marked in the order `pending` returned them: marking an entry advances its
    /// append's row past it (and past the entries of that append before it).
    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let touched: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "WITH marked AS (SELECT id / {OUTBOX_RANGE_SPAN} AS range_id, MAX(id % {OUTBOX_RANGE_SPAN}) AS off \
               FROM UNNEST($1::bigint[]) AS t(id) GROUP BY 1) \
             UPDATE keel_outbox_ranges o SET next_version = GREATEST(o.next_version, o.base_version + m.off + 1) \
             FROM marked m WHERE o.id = m.range_id RETURNING o.id"
        )))
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM keel_outbox_ranges WHERE id = ANY($1) AND next_version > last_version",
        )
        .bind(&touched)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
