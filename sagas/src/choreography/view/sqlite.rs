//! The saga view in SQLite, the embedded default.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keel_core::RecordedEvent;
use keel_core::subscription::{EventHandler, HandlerError, TransactionalHandler};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::fold::relevant;
use super::{ChoreographyState, ChoreographyStatus, ChoreographyView, StatusQuery, fold, sql};
use crate::Result;
use crate::choreography::Choreography;

const FIND: &str = "SELECT body FROM keel_choreography_instances \
     WHERE choreography = ?1 AND (?2 IS NULL OR state IN (SELECT value FROM json_each(?2))) \
     AND (?3 IS NULL OR awaiting = ?3) AND (?4 IS NULL OR updated_us < ?4)";

/// The saga view in table `keel_choreography_instances` of a SQLite database, one row per
/// instance (choreography, correlation id).
///
/// Keep it current with a keel-core subscription: beside a `SqliteStore` on the same
/// database, `Subscription::run_transactional` commits the rows of each batch and the
/// subscription's checkpoint in one transaction; elsewhere, `Subscription::run` writes each
/// event's row in its own transaction (a re-delivered event is recognised by its id and
/// changes nothing).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::SqliteStore;
/// use keel_core::subscription::Subscription;
/// use keel_sagas::choreography::{
///     Choreography, ChoreographyStep, ChoreographyView, SqliteChoreographyView, StatusQuery,
/// };
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// let order = Choreography::new("order")
///     .step(ChoreographyStep::new("orders", "place", "OrderPlaced"));
/// let mut view = SqliteChoreographyView::from_pool(store.pool().clone(), order).await?;
/// Subscription::new(store, "choreography-view:order")
///     .catch_up_transactional(&mut view)
///     .await?;
/// assert!(view.find(&StatusQuery::unfinished()).await?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteChoreographyView {
    choreography: Arc<Choreography>,
    pool: SqlitePool,
}

impl SqliteChoreographyView {
    /// Opens (creating if missing) the database at `url` (`sqlite://view.db`, or
    /// `sqlite::memory:`) and applies the view's migrations.
    pub async fn connect(url: &str, choreography: Choreography) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(30));
        let memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::from_pool(pool, choreography).await
    }

    /// Uses an existing pool (e.g. the event store's), applying the view's migrations, which
    /// are tracked in their own table (`keel_choreography_migrations`). `choreography` is
    /// checked with [`Choreography::validate`].
    pub async fn from_pool(pool: SqlitePool, choreography: Choreography) -> Result<Self> {
        let choreography = Arc::new(choreography.validate()?);
        let mut migrator = sqlx::migrate!("migrations/choreography/sqlite");
        migrator.dangerous_set_table_name(sql::MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { choreography, pool })
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Folds `event` into its instance's row through `conn`.
    async fn apply_in(&self, conn: &mut SqliteConnection, event: &RecordedEvent) -> Result<()> {
        let c = &self.choreography;
        let Some(correlation_id) = relevant(c, event) else {
            return Ok(());
        };
        let current: Option<String> = sqlx::query_scalar(
            "SELECT body FROM keel_choreography_instances \
             WHERE choreography = ?1 AND correlation_id = ?2",
        )
        .bind(c.name())
        .bind(correlation_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let current = current.as_deref().map(sql::decode).transpose()?;
        let Some(next) = fold(c, current, event) else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO keel_choreography_instances \
             (choreography, correlation_id, state, awaiting, failure, body, started_us, updated_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (choreography, correlation_id) DO UPDATE SET state = EXCLUDED.state, \
             awaiting = EXCLUDED.awaiting, failure = EXCLUDED.failure, body = EXCLUDED.body, \
             started_us = EXCLUDED.started_us, updated_us = EXCLUDED.updated_us",
        )
        .bind(c.name())
        .bind(correlation_id.to_string())
        .bind(next.state.as_str())
        .bind(sql::awaiting(&next))
        .bind(next.failure.as_deref())
        .bind(sql::encode(&next)?)
        .bind(next.started_at.timestamp_micros())
        .bind(next.updated_at.timestamp_micros())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

fn boxed(error: crate::Error) -> HandlerError {
    Box::new(error)
}

#[async_trait]
impl TransactionalHandler<Sqlite> for SqliteChoreographyView {
    async fn handle(
        &mut self,
        conn: &mut SqliteConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        self.apply_in(conn, event).await.map_err(boxed)
    }
}

#[async_trait]
impl EventHandler for SqliteChoreographyView {
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
impl ChoreographyView for SqliteChoreographyView {
    fn choreography(&self) -> &Choreography {
        &self.choreography
    }

    async fn status(&self, correlation_id: Uuid) -> Result<Option<ChoreographyStatus>> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM keel_choreography_instances \
             WHERE choreography = ?1 AND correlation_id = ?2",
        )
        .bind(self.choreography.name())
        .bind(correlation_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        body.as_deref().map(sql::decode).transpose()
    }

    async fn find(&self, query: &StatusQuery) -> Result<Vec<ChoreographyStatus>> {
        let order = if query.newest_first {
            " ORDER BY updated_us DESC, correlation_id DESC LIMIT ?5"
        } else {
            " ORDER BY updated_us, correlation_id LIMIT ?5"
        };
        let cutoff = sql::cutoff(query).map(|t| t.timestamp_micros());
        let states = sql::states(query)
            .map(|s| serde_json::to_string(&s))
            .transpose()
            .map_err(|e| crate::Error::serialize("the states asked for", e))?;
        let bodies: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{FIND}{order}")))
            .bind(self.choreography.name())
            .bind(states)
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
             WHERE choreography = ?1 GROUP BY state",
        )
        .bind(self.choreography.name())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(state, n)| sql::count(self.choreography.name(), state, *n))
            .collect()
    }
}
