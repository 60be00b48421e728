//! The saga view in PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keel_core::RecordedEvent;
use keel_core::subscription::{EventHandler, HandlerError, TransactionalHandler};
use sqlx::{PgConnection, PgPool, Postgres};
use uuid::Uuid;

use super::fold::relevant;
use super::{ChoreographyState, ChoreographyStatus, ChoreographyView, StatusQuery, fold, sql};
use crate::Result;
use crate::choreography::Choreography;

const FIND: &str = "SELECT body::text FROM keel_choreography_instances \
     WHERE choreography = $1 AND ($2::text[] IS NULL OR state = ANY($2)) \
     AND ($3::text IS NULL OR awaiting = $3) AND ($4::timestamptz IS NULL OR updated_at < $4)";

/// The saga view in table `keel_choreography_instances` of a PostgreSQL database, one row per
/// instance (choreography, correlation id).
///
/// Keep it current with a keel-core subscription: beside a `PostgresStore` on the same
/// database, `Subscription::run_transactional` commits the rows of each batch and the
/// subscription's checkpoint in one transaction; elsewhere, `Subscription::run` writes each
/// event's row in its own transaction (a re-delivered event is recognised by its id and
/// changes nothing).
///
/// ```text
/// let mut view = PostgresChoreographyView::from_pool(store.pool().clone(), choreography).await?;
/// Subscription::new(store, "choreography-view:order").run_transactional(&mut view, shutdown).await?;
/// // elsewhere, e.g. an operator's endpoint:
/// view.find(&StatusQuery::stuck("capture", Duration::from_secs(30))).await?;
/// ```
#[derive(Debug, Clone)]
pub struct PostgresChoreographyView {
    choreography: Arc<Choreography>,
    pool: PgPool,
}

impl PostgresChoreographyView {
    /// Connects to the database at `url` (applying the view's migrations).
    pub async fn connect(url: &str, choreography: Choreography) -> Result<Self> {
        Self::from_pool(PgPool::connect(url).await?, choreography).await
    }

    /// Uses an existing pool (e.g. the event store's), applying the view's migrations, which
    /// are tracked in their own table (`keel_choreography_migrations`). `choreography` is
    /// checked with [`Choreography::validate`].
    pub async fn from_pool(pool: PgPool, choreography: Choreography) -> Result<Self> {
        let choreography = Arc::new(choreography.validate()?);
        let mut migrator = sqlx::migrate!("migrations/choreography/postgres");
        migrator.dangerous_set_table_name(sql::MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { choreography, pool })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Folds `event` into its instance's row through `conn`.
    async fn apply_in(&self, conn: &mut PgConnection, event: &RecordedEvent) -> Result<()> {
        let c = &self.choreography;
        let Some(correlation_id) = relevant(c, event) else {
            return Ok(());
        };
        let current: Option<String> = sqlx::query_scalar(
            "SELECT body::text FROM keel_choreography_instances \
             WHERE choreography = $1 AND correlation_id = $2 FOR UPDATE",
        )
        .bind(c.name())
        .bind(correlation_id)
        .fetch_optional(&mut *conn)
        .await?;
        let current = current.as_deref().map(sql::decode).transpose()?;
        let Some(next) = fold(c, current, event) else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO keel_choreography_instances \
             (choreography, correlation_id, state, awaiting, failure, body, started_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) \
             ON CONFLICT (choreography, correlation_id) DO UPDATE SET state = EXCLUDED.state, \
             awaiting = EXCLUDED.awaiting, failure = EXCLUDED.failure, body = EXCLUDED.body, \
             started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at",
        )
        .bind(c.name())
        .bind(correlation_id)
        .bind(next.state.as_str())
        .bind(sql::awaiting(&next))
        .bind(next.failure.as_deref())
        .bind(sql::encode(&next)?)
        .bind(next.started_at)
        .bind(next.updated_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

fn boxed(error: crate::Error) -> HandlerError {
    Box::new(error)
}

#[async_trait]
impl TransactionalHandler<Postgres> for PostgresChoreographyView {
    async fn handle(
        &mut self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        self.apply_in(conn, event).await.map_err(boxed)
    }
}

#[async_trait]
impl EventHandler for PostgresChoreographyView {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if relevant(&self.choreography, event).is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(|e| boxed(e.into()))?;
        self.apply_in(&mut tx, event).await.map_err(boxed)?;
        tx.commit().await.map_err(|e| boxed(e.into()))
    }
}

#[async_trait]
impl ChoreographyView for PostgresChoreographyView {
    fn choreography(&self) -> &Choreography {
        &self.choreography
    }

    async fn status(&self, correlation_id: Uuid) -> Result<Option<ChoreographyStatus>> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body::text FROM keel_choreography_instances \
             WHERE choreography = $1 AND correlation_id = $2",
        )
        .bind(self.choreography.name())
        .bind(correlation_id)
        .fetch_optional(&self.pool)
        .await?;
        body.as_deref().map(sql::decode).transpose()
    }

    async fn find(&self, query: &StatusQuery) -> Result<Vec<ChoreographyStatus>> {
        let order = if query.newest_first {
            " ORDER BY updated_at DESC, correlation_id DESC LIMIT $5"
        } else {
            " ORDER BY updated_at, correlation_id LIMIT $5"
        };
        let cutoff: Option<DateTime<Utc>> = sql::cutoff(query);
        let bodies: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{FIND}{order}")))
            .bind(self.choreography.name())
            .bind(sql::states(query))
            .bind(query.awaiting.as_deref())
            .bind(cutoff)
            .bind(sql::limit(query))
            .fetch_all(&self.pool)
            .await?;
        bodies.iter().map(|b| sql::decode(b)).collect()
    }

    async fn counts(&self) -> Result<BTreeMap<ChoreographyState, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, count(*) FROM keel_choreography_instances \
             WHERE choreography = $1 GROUP BY state",
        )
        .bind(self.choreography.name())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(state, n)| sql::count(self.choreography.name(), state, *n))
            .collect()
    }
}
