//! The SQLite backend: the embedded default. Writers are serialized (`BEGIN IMMEDIATE`), so the
//! global order is the sequence order and `Position::commit` is always 0.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::plan::{Plan, plan};
use super::sql::{StoredEvent, to_i64, to_u64};
use super::time::{from_micros, now, to_micros};
use super::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, Outbox, OutboxEntry, Position,
    Snapshot, SnapshotStore, StreamQuery,
};
use crate::event::{NewEvent, RecordedEvent};
use crate::{Error, Result};

const COLUMNS: &str = "e.seq, e.event_id, e.stream_id, e.stream_version, e.event_type, \
                       e.schema_version, e.payload, e.metadata, e.occurred_at_us, e.recorded_at_us";

/// An event store in a SQLite database file (or in memory with `sqlite::memory:`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::{EventStore, ExpectedVersion, SqliteStore};
///
/// let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
/// store.append("order-1", ExpectedVersion::NoStream, vec![keel_core::doc::new_event()]).await.unwrap();
/// assert_eq!(store.stream_version("order-1").await.unwrap(), 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db` or
    /// `sqlite::memory:`) and applies Keel's migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config {
                key: "database_url".into(),
                reason: format!("`{url}`: {e}"),
            })?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // An in-memory database lives in one connection: keep exactly one.
        let max = if memory { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool, applying Keel's migrations.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name("keel_migrations");
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool, for handlers that write to the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Records a checkpoint inside the caller's transaction, so a handler's writes and its
    /// checkpoint commit together.
    pub async fn save_checkpoint_in(
        tx: &mut sqlx::SqliteConnection,
        name: &str,
        position: Position,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO keel_checkpoints (name, commit_pos, seq) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET commit_pos = excluded.commit_pos, seq = excluded.seq",
        )
        .bind(name)
        .bind(to_i64(position.commit))
        .bind(to_i64(position.seq))
        .execute(tx)
        .await?;
        Ok(())
    }
}

fn decode_row(row: &SqliteRow) -> Result<RecordedEvent> {
    let stream_id: String = row.try_get("stream_id")?;
    let stream_version = to_u64(row.try_get("stream_version")?);
    let position = Position::new(0, to_u64(row.try_get("seq")?));
    let event_type: String = row.try_get("event_type")?;
    let schema_version = u32::try_from(row.try_get::<i64, _>("schema_version")?).unwrap_or(0);
    let stored = StoredEvent {
        event_type: &event_type,
        schema_version,
        stream_id: &stream_id,
        stream_version,
        position,
    };
    let payload = stored.decode(row.try_get::<&str, _>("payload")?.as_bytes())?;
    let metadata = stored.decode(row.try_get::<&str, _>("metadata")?.as_bytes())?;
    let event_id: Uuid = row.try_get("event_id")?;
    Ok(RecordedEvent {
        event_id,
        stream_version,
        position,
        occurred_at: from_micros(row.try_get("occurred_at_us")?),
        recorded_at: from_micros(row.try_get("recorded_at_us")?),
        schema_version,
        payload,
        metadata,
        stream_id,
        event_type,
    })
}

fn serialize(what: &str, value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Serialize {
        what: what.to_owned(),
        source,
    })
}

#[async_trait]
impl EventStore for SqliteStore {
    #[tracing::instrument(name = "keel.append", skip_all, fields(stream_id = %stream_id, events = events.len()))]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let actual: u64 =
            sqlx::query_scalar("SELECT version FROM keel_streams WHERE stream_id = ?1")
                .bind(stream_id)
                .fetch_optional(&mut *tx)
                .await?
                .map_or(0, to_u64);
        // One query for every id of the batch: the ids travel as a JSON array of hex strings.
        let ids = serde_json::Value::from(
            events
                .iter()
                .map(|e| e.event_id.simple().to_string())
                .collect::<Vec<_>>(),
        );
        let stored: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "SELECT event_id FROM keel_events \
             WHERE event_id IN (SELECT unhex(value) FROM json_each(?1))",
        )
        .bind(ids.to_string())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let (fresh, duplicates) = match plan(stream_id, expected, actual, events, |id| {
            stored.contains(id)
        })? {
            Plan::Done(outcome) => {
                tx.commit().await?;
                return Ok(outcome);
            }
            Plan::Write { fresh, duplicates } => (fresh, duplicates),
        };
        let recorded_at = now();
        let mut appended = Vec::with_capacity(fresh.len());
        for (i, event) in fresh.into_iter().enumerate() {
            let stream_version = actual + 1 + i as u64;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, \
                 schema_version, payload, metadata, occurred_at_us, recorded_at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING seq",
            )
            .bind(event.event_id)
            .bind(stream_id)
            .bind(to_i64(stream_version))
            .bind(&event.event_type)
            .bind(i64::from(event.schema_version))
            .bind(serialize("payload", &event.payload)?)
            .bind(serialize("metadata", &event.metadata)?)
            .bind(to_micros(event.occurred_at))
            .bind(to_micros(recorded_at))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO keel_outbox (seq) VALUES (?1)")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            appended.push(RecordedEvent {
                event_id: event.event_id,
                stream_id: stream_id.to_owned(),
                stream_version,
                position: Position::new(0, to_u64(seq)),
                occurred_at: super::time::truncate(event.occurred_at),
                recorded_at,
                event_type: event.event_type,
                schema_version: event.schema_version,
                payload: event.payload,
                metadata: event.metadata,
            });
        }
        let stream_version = actual + appended.len() as u64;
        sqlx::query(
            "INSERT INTO keel_streams (stream_id, version) VALUES (?1, ?2) \
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
        )
        .bind(stream_id)
        .bind(to_i64(stream_version))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AppendOutcome {
            stream_version,
            appended,
            duplicates,
        })
    }

    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM keel_events e WHERE e.stream_id = ?1 AND e.stream_version >= ?2 \
             AND e.recorded_at_us <= ?3 ORDER BY e.stream_version LIMIT ?4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(to_i64(query.from_version))
            .bind(query.recorded_until.map_or(i64::MAX, to_micros))
            .bind(
                query
                    .limit
                    .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            )
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        let sql =
            format!("SELECT {COLUMNS} FROM keel_events e WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_i64(after.seq))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    async fn contains_event(&self, event_id: Uuid) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM keel_events WHERE event_id = ?1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM keel_streams WHERE stream_id = ?1")
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(version.map_or(0, to_u64))
    }

    async fn head(&self) -> Result<Position> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM keel_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(Position::new(0, seq.map_or(0, to_u64)))
    }
}

#[async_trait]
impl SnapshotStore for SqliteStore {
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO keel_snapshots (stream_id, stream_version, aggregate_type, \
             schema_version, last_recorded_at_us, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&snapshot.stream_id)
        .bind(to_i64(snapshot.stream_version))
        .bind(&snapshot.aggregate_type)
        .bind(i64::from(snapshot.schema_version))
        .bind(to_micros(snapshot.last_recorded_at))
        .bind(serialize("snapshot", &snapshot.state)?)
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
            "SELECT stream_version, aggregate_type, schema_version, last_recorded_at_us, state \
             FROM keel_snapshots WHERE stream_id = ?1 AND last_recorded_at_us <= ?2 \
             ORDER BY stream_version DESC LIMIT 1",
        )
        .bind(stream_id)
        .bind(at.map_or(i64::MAX, to_micros))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stream_version = to_u64(row.try_get("stream_version")?);
        let state = serde_json::from_str(row.try_get::<&str, _>("state")?).map_err(|source| {
            Error::CorruptSnapshot {
                stream_id: stream_id.to_owned(),
                stream_version,
                source,
            }
        })?;
        Ok(Some(Snapshot {
            stream_id: stream_id.to_owned(),
            aggregate_type: row.try_get("aggregate_type")?,
            stream_version,
            schema_version: u32::try_from(row.try_get::<i64, _>("schema_version")?).unwrap_or(0),
            last_recorded_at: from_micros(row.try_get("last_recorded_at_us")?),
            state,
        }))
    }
}

#[async_trait]
impl CheckpointStore for SqliteStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT commit_pos, seq FROM keel_checkpoints WHERE name = ?1")
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
impl Outbox for SqliteStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT o.id AS outbox_id, {COLUMNS} FROM keel_outbox o \
             JOIN keel_events e ON e.seq = o.seq ORDER BY o.id LIMIT ?1"
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

    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for id in ids {
            sqlx::query("DELETE FROM keel_outbox WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
