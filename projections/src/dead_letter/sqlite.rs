//! Dead letters in the SQLite database of the event store.

use async_trait::async_trait;
use keel_core::Position;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::row::{MIGRATIONS_TABLE, bad_row, from_us, sql_error, stage, to_i64, to_u64, to_us};
use super::{DeadLetter, DeadLetterStore};
use crate::Result;

const NAME: &str = "sqlite";

/// Dead letters in the table `keel_projection_dead_letters` of a SQLite database, usually the
/// event store's (`SqliteDeadLetters::from_pool(store.pool().clone())`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::SqliteStore;
/// use keel_projections::dead_letter::{DeadLetterStore, SqliteDeadLetters};
///
/// let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
/// let letters = SqliteDeadLetters::from_pool(store.pool().clone()).await.unwrap();
/// assert!(letters.list("orders").await.unwrap().is_empty());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteDeadLetters {
    pool: SqlitePool,
}

impl SqliteDeadLetters {
    /// Uses the pool (the event store's), creating the table when missing; this crate's
    /// migrations are tracked in their own table (`keel_projection_migrations`).
    pub async fn from_pool(pool: SqlitePool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
            .run(&pool)
            .await
            .map_err(|e| sql_error(NAME, e.into()))?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl DeadLetterStore for SqliteDeadLetters {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, letters: &[DeadLetter]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| sql_error(NAME, e))?;
        for l in letters {
            sqlx::query(
                "INSERT INTO keel_projection_dead_letters (projection, stage, sink, doc_key, \
                 event_id, event_type, schema_version, stream_id, stream_version, \
                 position_commit, position_seq, payload, reason, at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (projection, event_id, stage, sink) DO NOTHING",
            )
            .bind(&l.projection)
            .bind(l.stage_name())
            .bind(l.sink())
            .bind(l.key())
            .bind(l.event_id.to_string())
            .bind(&l.event_type)
            .bind(i64::from(l.schema_version))
            .bind(&l.stream_id)
            .bind(to_i64(l.stream_version))
            .bind(to_i64(l.position.commit))
            .bind(to_i64(l.position.seq))
            .bind(l.payload.to_string())
            .bind(&l.reason)
            .bind(to_us(l.at))
            .execute(&mut *tx)
            .await
            .map_err(|e| sql_error(NAME, e))?;
        }
        tx.commit().await.map_err(|e| sql_error(NAME, e))
    }

    async fn list(&self, projection: &str) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT stage, sink, doc_key, event_id, event_type, schema_version, stream_id, \
             stream_version, position_commit, position_seq, payload, reason, at_us \
             FROM keel_projection_dead_letters WHERE projection = ?1 ORDER BY id",
        )
        .bind(projection)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| sql_error(NAME, e))?;
        rows.iter().map(|row| letter(projection, row)).collect()
    }
}

fn letter(projection: &str, row: &SqliteRow) -> Result<DeadLetter> {
    let get_err = |e| sql_error(NAME, e);
    let event_id: String = row.try_get("event_id").map_err(get_err)?;
    let payload: String = row.try_get("payload").map_err(get_err)?;
    let schema_version: i64 = row.try_get("schema_version").map_err(get_err)?;
    let stage_name: String = row.try_get("stage").map_err(get_err)?;
    Ok(DeadLetter {
        projection: projection.to_owned(),
        stage: stage(
            &stage_name,
            row.try_get("sink").map_err(get_err)?,
            row.try_get("doc_key").map_err(get_err)?,
        ),
        event_id: event_id.parse().map_err(|e| bad_row(NAME, "event id", e))?,
        event_type: row.try_get("event_type").map_err(get_err)?,
        schema_version: u32::try_from(schema_version)
            .map_err(|e| bad_row(NAME, "schema version", e))?,
        stream_id: row.try_get("stream_id").map_err(get_err)?,
        stream_version: to_u64(row.try_get("stream_version").map_err(get_err)?),
        position: Position {
            commit: to_u64(row.try_get("position_commit").map_err(get_err)?),
            seq: to_u64(row.try_get("position_seq").map_err(get_err)?),
        },
        payload: serde_json::from_str(&payload).map_err(|e| bad_row(NAME, "payload", e))?,
        reason: row.try_get("reason").map_err(get_err)?,
        at: from_us(row.try_get("at_us").map_err(get_err)?),
    })
}
