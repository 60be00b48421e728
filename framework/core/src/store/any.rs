//! Choosing a backend by configuration: PostgreSQL when a `postgres://` URL is configured,
//! SQLite (the embedded default) otherwise.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, MemoryStore, Outbox, OutboxEntry,
    Position, Snapshot, SnapshotStore, StreamQuery,
};
use crate::event::{NewEvent, RecordedEvent};
use crate::{Error, Result};

/// The database used when nothing is configured: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keel.db";

/// Any of the backends, chosen at run time.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::AnyStore;
/// let store = AnyStore::connect(Some("memory:")).await.unwrap();
/// assert!(matches!(store, AnyStore::Memory(_)));
/// # });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// In memory (`memory:`).
    Memory(MemoryStore),
    /// SQLite (`sqlite:...`), the embedded default.
    #[cfg(feature = "sqlite")]
    Sqlite(super::SqliteStore),
    /// PostgreSQL (`postgres://...` or `postgresql://...`).
    #[cfg(feature = "postgres")]
    Postgres(super::PostgresStore),
}

impl AnyStore {
    /// Connects to `url`, or to [`DEFAULT_DATABASE_URL`] when `None`. The scheme picks the
    /// backend: `postgres://`/`postgresql://`, `sqlite:` or `memory:`; anything else is a
    /// configuration error naming the URL.
    pub async fn connect(url: Option<&str>) -> Result<Self> {
        let url = url.unwrap_or(DEFAULT_DATABASE_URL);
        if url == "memory:" {
            return Ok(AnyStore::Memory(MemoryStore::new()));
        }
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            return Ok(AnyStore::Sqlite(super::SqliteStore::connect(url).await?));
        }
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(AnyStore::Postgres(
                super::PostgresStore::connect(url).await?,
            ));
        }
        Err(Error::Config {
            key: "database_url".into(),
            reason: format!(
                "`{url}` is not a URL of an enabled backend (postgres://, sqlite:, memory:; \
                 PostgreSQL and SQLite need the `postgres` and `sqlite` features)"
            ),
        })
    }

    /// Connects to `KEEL_DATABASE_URL` (or `DATABASE_URL`), or to the embedded default.
    pub async fn from_env() -> Result<Self> {
        let url = std::env::var("KEEL_DATABASE_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .ok();
        Self::connect(url.as_deref()).await
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($store) => $call,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($store) => $call,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $call,
        }
    };
}

#[async_trait]
impl EventStore for AnyStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        each!(self, s => s.append(stream_id, expected, events).await)
    }
    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        each!(self, s => s.read_stream(stream_id, query).await)
    }
    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        each!(self, s => s.read_all(after, limit).await)
    }
    async fn page_ends(
        &self,
        after: Position,
        page: usize,
        pages: usize,
    ) -> Result<Option<Vec<Position>>> {
        each!(self, s => s.page_ends(after, page, pages).await)
    }
    async fn read_range(&self, after: Position, through: Position) -> Result<Vec<RecordedEvent>> {
        each!(self, s => s.read_range(after, through).await)
    }
    async fn contains_event(&self, event_id: Uuid) -> Result<bool> {
        each!(self, s => s.contains_event(event_id).await)
    }
    async fn stored_event_ids(&self, event_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        each!(self, s => s.stored_event_ids(event_ids).await)
    }
    async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        each!(self, s => s.stream_version(stream_id).await)
    }
    async fn head(&self) -> Result<Position> {
        each!(self, s => s.head().await)
    }
    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        each!(self, s => s.wait_for_new(after, timeout).await)
    }
}

#[async_trait]
impl SnapshotStore for AnyStore {
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        each!(self, s => s.save_snapshot(snapshot).await)
    }
    async fn load_snapshot(
        &self,
        stream_id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Snapshot>> {
        each!(self, s => s.load_snapshot(stream_id, at).await)
    }
}

#[async_trait]
impl CheckpointStore for AnyStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>> {
        each!(self, s => s.load_checkpoint(name).await)
    }
    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<()> {
        each!(self, s => s.save_checkpoint(name, position).await)
    }
}

#[async_trait]
impl Outbox for AnyStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        each!(self, s => s.pending(limit).await)
    }
    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        each!(self, s => s.mark_published(ids).await)
    }
}

#[cfg(test)]
mod tests {
    use super::AnyStore;

    #[tokio::test]
    async fn an_unknown_scheme_is_a_config_error_naming_the_url() {
        let err = AnyStore::connect(Some("mongodb://x"))
            .await
            .expect_err("unknown scheme");
        assert!(
            err.to_string().contains("database_url") && err.to_string().contains("mongodb://x"),
            "{err}"
        );
    }
}
