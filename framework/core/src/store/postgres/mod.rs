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
//! Consequence to know in operations: a long-running transaction anywhere on the server (the
//! horizon is the cluster's) holds it back, and subscribers wait for it.
//!
//! Files: `append.rs` (the one-statement append and the general path, ADR 0005), `announce.rs`
//! (the `NOTIFY` after an append's commit, ADR 0008), `outbox.rs` (the outbox rows per
//! append), `pages.rs` (page ends and ranges, for readers that read pages at the same time),
//! `json.rs` (payloads and metadata as `json` text, ADR 0052), this file (connection, reads,
//! waiting for new events, snapshots, checkpoints).

mod announce;
mod append;
mod json;
mod outbox;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use sqlx::postgres::{PgListener, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use super::sql::{StoredEvent, to_i64, to_u64};
use super::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, Position, Snapshot, SnapshotStore,
    StreamQuery,
};
use crate::Result;
use crate::event::{Metadata, NewEvent, RecordedEvent};

/// The channel subscribers listen on, notified after appends (ADR 0008).
const NOTIFY_CHANNEL: &str = "keel_events";

/// How many versions one outbox row can address: entry ids are `row id * span + offset`.
const OUTBOX_RANGE_SPAN: u64 = 1 << 20;

/// The columns `decode_row` reads, by index: every query that decodes events selects these first.
/// `tx_id` is selected as it is (`xid8`, sent as 8 bytes, which decode unchecked as an `i64`),
/// not cast through text on the server for every row.
const EVENT_COLUMNS: &str = "e.seq, e.tx_id AS tx, e.event_id, e.stream_id, \
     e.stream_version, e.event_type, e.schema_version, e.payload, e.metadata, e.occurred_at, \
     e.recorded_at";

/// An event store in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    wakeup: Arc<Wakeup>,
    announcer: Arc<announce::Announcer>,
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
            announcer: Arc::new(announce::Announcer::start(pool.clone())),
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

/// The first pause while a committed event is held back by the horizon, and the longest.
const HELD_BACK_FIRST_PAUSE: Duration = Duration::from_millis(2);
const HELD_BACK_MAX_PAUSE: Duration = Duration::from_millis(50);

/// What follows a position in the global order, as this connection sees it.
enum Next {
    /// An event below the horizon: `read_all` returns it now.
    Readable,
    /// Committed events, none of them readable yet: an older transaction still runs.
    HeldBack,
}

impl PostgresStore {
    /// The first committed event after `after`, readable or held back; `None` when there is
    /// none.
    async fn next_after(&self, after: Position) -> Result<Option<Next>> {
        let readable: Option<bool> = sqlx::query_scalar(
            "SELECT tx_id < pg_snapshot_xmin(pg_current_snapshot()) FROM keel_events \
             WHERE (tx_id, seq) > ($1::text::xid8, $2) ORDER BY tx_id, seq LIMIT 1",
        )
        .bind(after.commit.to_string())
        .bind(to_i64(after.seq))
        .fetch_optional(&self.pool)
        .await?;
        Ok(readable.map(|now| if now { Next::Readable } else { Next::HeldBack }))
    }
}

/// Decodes a row whose first columns are [`EVENT_COLUMNS`], by index and without sqlx's type
/// check (the SQL fixes the types; a value of another type still fails to decode): a read
/// decodes thousands of rows, and looking each column up by name and checking its type costs
/// a hash and a comparison per column.
fn decode_row(row: &PgRow) -> Result<RecordedEvent> {
    let stream_id: String = row.try_get_unchecked(3)?;
    let stream_version = to_u64(row.try_get_unchecked(4)?);
    let position = Position::new(
        to_u64(row.try_get_unchecked(1)?),
        to_u64(row.try_get_unchecked(0)?),
    );
    let event_type: String = row.try_get_unchecked(5)?;
    let schema_version = u32::try_from(row.try_get_unchecked::<i32, _>(6)?).unwrap_or(0);
    let stored = StoredEvent {
        event_type: &event_type,
        schema_version,
        stream_id: &stream_id,
        stream_version,
        position,
    };
    let payload = stored.decode(json::text(row, 7)?)?;
    let metadata: Metadata = stored.decode(json::text(row, 8)?)?;
    Ok(RecordedEvent {
        event_id: row.try_get_unchecked(2)?,
        stream_version,
        position,
        occurred_at: row.try_get_unchecked(9)?,
        recorded_at: row.try_get_unchecked(10)?,
        schema_version,
        payload,
        metadata,
        stream_id,
        event_type,
    })
}

/// Most events a read makes room for before the first row arrives.
const READ_CAPACITY: usize = 8192;

/// Runs `query`, which selects [`EVENT_COLUMNS`] first, decoding each row as it arrives (the
/// rows are never collected), into a vector with room for `expected` events.
async fn fetch_events(
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    pool: &PgPool,
    expected: usize,
) -> Result<Vec<RecordedEvent>> {
    let mut rows = query.fetch(pool);
    let mut events = Vec::with_capacity(expected.min(READ_CAPACITY));
    while let Some(row) = rows.try_next().await? {
        events.push(decode_row(&row)?);
    }
    Ok(events)
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
        let outcome = append::append(&self.pool, stream_id, expected, events).await?;
        if !outcome.appended.is_empty() {
            self.announcer.announce();
        }
        Ok(outcome)
    }

    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM keel_events e WHERE e.stream_id = $1 AND e.stream_version >= $2 \
             AND ($3::timestamptz IS NULL OR e.recorded_at <= $3) \
             ORDER BY e.stream_version LIMIT $4"
        );
        let select = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(to_i64(query.from_version))
            .bind(query.recorded_until)
            .bind(query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)));
        fetch_events(select, &self.pool, query.limit.unwrap_or(0)).await
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM keel_events e WHERE (e.tx_id, e.seq) > ($1::text::xid8, $2) \
             AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY e.tx_id, e.seq LIMIT $3"
        );
        let select = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.commit.to_string())
            .bind(to_i64(after.seq))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        fetch_events(select, &self.pool, limit).await
    }

    async fn page_ends(
        &self,
        after: Position,
        page: usize,
        pages: usize,
    ) -> Result<Option<Vec<Position>>> {
        pages::page_ends(&self.pool, after, page, pages)
            .await
            .map(Some)
    }

    async fn read_range(&self, after: Position, through: Position) -> Result<Vec<RecordedEvent>> {
        pages::read_range(&self.pool, after, through).await
    }

    async fn contains_event(&self, event_id: Uuid) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM keel_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn stored_event_ids(&self, event_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(
            sqlx::query_scalar("SELECT event_id FROM keel_events WHERE event_id = ANY($1)")
                .bind(event_ids)
                .fetch_all(&self.pool)
                .await?,
        )
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

    /// Wakes on `NOTIFY` (sent after appends, ADR 0008). An event that committed but is still
    /// held back by the global order's horizon (an older transaction of the cluster, an append
    /// or not, is still running: ADR 0002) gets no second notification when that transaction
    /// ends, so while one is held back this re-checks after 2 ms, doubling up to 50 ms, instead
    /// of waiting for the next append or the timeout.
    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        self.ensure_listener().await;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = HELD_BACK_FIRST_PAUSE;
        loop {
            let notified = self.wakeup.notify.notified();
            match self.next_after(after).await {
                Ok(Some(Next::Readable)) => return,
                Ok(Some(Next::HeldBack)) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        return;
                    }
                    tokio::time::sleep(pause.min(deadline - now)).await;
                    pause = (pause * 2).min(HELD_BACK_MAX_PAUSE);
                }
                Ok(None) | Err(_) => {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                    return;
                }
            }
        }
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
