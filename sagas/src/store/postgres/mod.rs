//! Saga state in PostgreSQL, the production backend. Loads, inserts, updates and the inbox go
//! through a group commit ([`group`]), the rest straight to the pool.

mod group;
mod statements;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};

use super::row::{
    ACTIVE, MIGRATIONS_TABLE, decode, encode, from_us, instance, to_us, usize_to_i64,
};
use super::{DeadLetter, InboxStore, SagaStore};
use crate::instance::SagaInstance;
use crate::message::{CommandEnvelope, ReplyOutcome};
use crate::participant::TransactionalHandler;
use crate::{Error, Result};
use group::Group;
use statements::{InboxRow, InstanceRow};

/// A query over saga instances that reads what `decode_instance` decodes.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT body::text AS body, version FROM keel_saga_instances ",
            $rest
        )
    };
}

/// Saga instances, dead letters and the participant inbox in PostgreSQL.
///
/// Concurrent calls are grouped: loads, inserts, updates and inbox reads and writes that
/// arrive while earlier ones run are sent together, as one multi-row statement per kind, the
/// writes in one transaction (a group commit, up to 256 operations, four groups at a time). A
/// call returns once its own write committed, so a coordinator still stores each transition
/// before it sends the command; a busy coordinator and its participants share PostgreSQL round
/// trips and commits instead of paying one each. Clones share the pool and the groups.
#[derive(Debug, Clone)]
pub struct PostgresSagaStore {
    pool: PgPool,
    group: Group,
}

impl PostgresSagaStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and applies the saga
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (e.g. the event store's), applying the saga migrations, which are
    /// tracked in their own table (`keel_saga_migrations`).
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        let group = Group::start(pool.clone());
        Ok(Self { pool, group })
    }

    /// The pool, for participants that write to the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `handler` at most once per command: the inbox row is inserted first (concurrent
    /// deliveries of one command wait on it), then the handler's writes, in one transaction.
    /// A command already handled gets its recorded outcome back without running the handler.
    pub async fn handle_once(
        &self,
        participant: &str,
        command: &CommandEnvelope,
        handler: &dyn TransactionalHandler<PgConnection>,
    ) -> Result<ReplyOutcome> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO keel_saga_inbox (participant, idempotency_key, outcome) \
             VALUES ($1, $2, 'null'::jsonb) ON CONFLICT DO NOTHING",
        )
        .bind(participant)
        .bind(&command.idempotency_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            tx.commit().await?;
            return recorded_in(&self.pool, participant, &command.idempotency_key)
                .await?
                .ok_or_else(|| Error::Handler {
                    participant: participant.to_owned(),
                    reason: "the inbox row has no outcome".into(),
                });
        }
        let outcome = handler.handle(&mut tx, command).await?;
        sqlx::query(
            "UPDATE keel_saga_inbox SET outcome = $3::jsonb \
             WHERE participant = $1 AND idempotency_key = $2",
        )
        .bind(participant)
        .bind(&command.idempotency_key)
        .bind(encode("an outcome", &outcome)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

fn decode_instance(row: &PgRow) -> Result<SagaInstance> {
    instance(row.try_get("body")?, row.try_get("version")?)
}

async fn recorded_in(pool: &PgPool, participant: &str, key: &str) -> Result<Option<ReplyOutcome>> {
    let outcome: Option<String> = sqlx::query_scalar(
        "SELECT outcome::text FROM keel_saga_inbox \
         WHERE participant = $1 AND idempotency_key = $2 AND outcome <> 'null'::jsonb",
    )
    .bind(participant)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    outcome
        .map(|o| decode("a recorded outcome", &o))
        .transpose()
}

#[async_trait]
impl SagaStore for PostgresSagaStore {
    async fn insert(&self, i: &SagaInstance) -> Result<()> {
        if !self.group.insert(InstanceRow::of(i)?).await? {
            return Err(Error::SagaExists {
                saga_type: i.saga_type.clone(),
                saga_id: i.saga_id.clone(),
            });
        }
        Ok(())
    }

    async fn update(&self, i: &SagaInstance) -> Result<()> {
        let row = InstanceRow::of(i)?;
        let expected = row.expected();
        if !self.group.update(row).await? {
            return Err(Error::Conflict {
                saga_type: i.saga_type.clone(),
                saga_id: i.saga_id.clone(),
                expected,
            });
        }
        Ok(())
    }

    async fn load(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaInstance>> {
        self.group
            .load((saga_type.to_owned(), saga_id.to_owned()))
            .await
    }

    async fn in_flight(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        sqlx::query(select!(
            "WHERE saga_type = $1 AND state IN ($2, $3) ORDER BY saga_id"
        ))
        .bind(saga_type)
        .bind(ACTIVE[0])
        .bind(ACTIVE[1])
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode_instance)
        .collect()
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaInstance>> {
        sqlx::query(select!(
            "WHERE saga_type = $1 AND state IN ($2, $3) AND deadline_us <= $4 \
             ORDER BY deadline_us LIMIT $5"
        ))
        .bind(saga_type)
        .bind(ACTIVE[0])
        .bind(ACTIVE[1])
        .bind(to_us(now))
        .bind(usize_to_i64(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode_instance)
        .collect()
    }

    async fn parked(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        sqlx::query(select!(
            "WHERE saga_type = $1 AND state = 'parked' ORDER BY saga_id"
        ))
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
             VALUES ($1, $2, $3, $4::jsonb, $5)",
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
            "SELECT reason, reply::text AS reply, at_us FROM keel_saga_dead_letters \
             WHERE saga_id = $1 ORDER BY id",
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
impl InboxStore for PostgresSagaStore {
    async fn recorded(&self, participant: &str, key: &str) -> Result<Option<ReplyOutcome>> {
        self.group
            .recorded((participant.to_owned(), key.to_owned()))
            .await
    }

    async fn record(&self, participant: &str, key: &str, outcome: &ReplyOutcome) -> Result<bool> {
        self.group
            .record(InboxRow {
                participant: participant.to_owned(),
                key: key.to_owned(),
                outcome: encode("an outcome", outcome)?,
            })
            .await
    }
}
