//! Saga state in SQLite, the embedded default.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::row::{
    ACTIVE, MIGRATIONS_TABLE, decode, encode, from_us, instance, to_i64, to_us, usize_to_i64,
};
use super::{DeadLetter, InboxStore, SagaStore};
use crate::instance::SagaInstance;
use crate::message::{CommandEnvelope, ReplyOutcome};
use crate::participant::TransactionalHandler;
use crate::{Error, Result};

/// Saga instances, dead letters and the participant inbox in a SQLite database.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_sagas::store::{SagaStore, SqliteSagaStore};
///
/// let store = SqliteSagaStore::connect("sqlite::memory:").await.unwrap();
/// assert!(store.load("order", "o-1").await.unwrap().is_none());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteSagaStore {
    pool: SqlitePool,
}

impl SqliteSagaStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://file.db` or
    /// `sqlite::memory:`) and applies the saga migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(u32::from(memory))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (e.g. the event store's), applying the saga migrations, which are
    /// tracked in their own table (`keel_saga_migrations`).
    pub async fn from_pool(pool: SqlitePool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool, for participants that write to the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs `handler` at most once per command: the inbox check, the handler's writes (through
    /// the connection it is given) and the inbox row commit in one transaction. A command
    /// already handled gets its recorded outcome back without running the handler.
    pub async fn handle_once(
        &self,
        participant: &str,
        command: &CommandEnvelope,
        handler: &dyn TransactionalHandler<SqliteConnection>,
    ) -> Result<ReplyOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(outcome) = recorded_in(&mut tx, participant, &command.idempotency_key).await? {
            tx.commit().await?;
            return Ok(outcome);
        }
        let outcome = handler.handle(&mut tx, command).await?;
        record_in(&mut tx, participant, &command.idempotency_key, &outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn select(
        &self,
        sql: &'static str,
        saga_type: &str,
        arg: Option<i64>,
    ) -> Result<Vec<SagaInstance>> {
        let mut query = sqlx::query(sql)
            .bind(saga_type)
            .bind(ACTIVE[0])
            .bind(ACTIVE[1]);
        if let Some(arg) = arg {
            query = query.bind(arg);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_instance)
            .collect()
    }
}

fn decode_instance(row: &SqliteRow) -> Result<SagaInstance> {
    instance(row.try_get("body")?, row.try_get("version")?)
}

async fn recorded_in(
    conn: &mut SqliteConnection,
    participant: &str,
    key: &str,
) -> Result<Option<ReplyOutcome>> {
    let outcome: Option<String> = sqlx::query_scalar(
        "SELECT outcome FROM keel_saga_inbox WHERE participant = ?1 AND idempotency_key = ?2",
    )
    .bind(participant)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    outcome
        .map(|o| decode("a recorded outcome", &o))
        .transpose()
}

async fn record_in(
    conn: &mut SqliteConnection,
    participant: &str,
    key: &str,
    outcome: &ReplyOutcome,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO keel_saga_inbox (participant, idempotency_key, outcome, recorded_at_us) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )
    .bind(participant)
    .bind(key)
    .bind(encode("an outcome", outcome)?)
    .bind(to_us(Utc::now()))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl SagaStore for SqliteSagaStore {
    async fn insert(&self, i: &SagaInstance) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO keel_saga_instances (saga_type, saga_id, state, current_step, \
             deadline_us, version, body, updated_at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&i.saga_type)
        .bind(&i.saga_id)
        .bind(i.state.as_str())
        .bind(usize_to_i64(i.current_step))
        .bind(i.deadline.map(to_us))
        .bind(to_i64(i.version))
        .bind(encode("a saga instance", i)?)
        .bind(to_us(Utc::now()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::SagaExists {
                saga_type: i.saga_type.clone(),
                saga_id: i.saga_id.clone(),
            });
        }
        Ok(())
    }

    async fn update(&self, i: &SagaInstance) -> Result<()> {
        let expected = i.version.saturating_sub(1);
        let done = sqlx::query(
            "UPDATE keel_saga_instances SET state = ?3, current_step = ?4, deadline_us = ?5, \
             version = ?6, body = ?7, updated_at_us = ?8 \
             WHERE saga_type = ?1 AND saga_id = ?2 AND version = ?9",
        )
        .bind(&i.saga_type)
        .bind(&i.saga_id)
        .bind(i.state.as_str())
        .bind(usize_to_i64(i.current_step))
        .bind(i.deadline.map(to_us))
        .bind(to_i64(i.version))
        .bind(encode("a saga instance", i)?)
        .bind(to_us(Utc::now()))
        .bind(to_i64(expected))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict {
                saga_type: i.saga_type.clone(),
                saga_id: i.saga_id.clone(),
                expected,
            });
        }
        Ok(())
    }

    async fn load(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaInstance>> {
        sqlx::query(
            "SELECT body, version FROM keel_saga_instances WHERE saga_type = ?1 AND saga_id = ?2",
        )
        .bind(saga_type)
        .bind(saga_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode_instance)
        .transpose()
    }

    async fn in_flight(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        self.select(
            "SELECT body, version FROM keel_saga_instances \
             WHERE saga_type = ?1 AND state IN (?2, ?3) ORDER BY saga_id",
            saga_type,
            None,
        )
        .await
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaInstance>> {
        let mut due = self
            .select(
                "SELECT body, version FROM keel_saga_instances WHERE saga_type = ?1 \
                 AND state IN (?2, ?3) AND deadline_us <= ?4 ORDER BY deadline_us",
                saga_type,
                Some(to_us(now)),
            )
            .await?;
        due.truncate(limit);
        Ok(due)
    }

    async fn parked(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        sqlx::query(
            "SELECT body, version FROM keel_saga_instances \
             WHERE saga_type = ?1 AND state = 'parked' ORDER BY saga_id",
        )
        .bind(saga_type)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode_instance)
        .collect()
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        sqlx::query(
            "INSERT INTO keel_saga_dead_letters (saga_type, saga_id, reason, reply, at_us) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&letter.reply.saga_type)
        .bind(&letter.reply.saga_id)
        .bind(&letter.reason)
        .bind(encode("a reply", &letter.reply)?)
        .bind(to_us(letter.at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn dead_letters(&self, saga_id: &str) -> Result<Vec<DeadLetter>> {
        sqlx::query(
            "SELECT reason, reply, at_us FROM keel_saga_dead_letters WHERE saga_id = ?1 ORDER BY id",
        )
        .bind(saga_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(DeadLetter {
                reason: row.try_get("reason")?,
                reply: decode("a dead-lettered reply", row.try_get("reply")?)?,
                at: from_us(row.try_get("at_us")?),
            })
        })
        .collect()
    }
}

#[async_trait]
impl InboxStore for SqliteSagaStore {
    async fn recorded(&self, participant: &str, key: &str) -> Result<Option<ReplyOutcome>> {
        let mut conn = self.pool.acquire().await?;
        recorded_in(&mut conn, participant, key).await
    }

    async fn record(&self, participant: &str, key: &str, outcome: &ReplyOutcome) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        record_in(&mut conn, participant, key, outcome).await
    }
}
