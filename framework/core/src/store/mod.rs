//! The event store: one set of traits, three backends (in-memory, SQLite, PostgreSQL) that pass
//! one conformance suite ([`crate::testing::conformance`]).

mod any;
mod memory;
mod plan;
mod position;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod time;
mod types;

pub use any::{AnyStore, DEFAULT_DATABASE_URL};
pub use memory::MemoryStore;
pub use position::Position;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use types::{AppendOutcome, ExpectedVersion, OutboxEntry, Snapshot, StreamQuery};

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;
use crate::event::{NewEvent, RecordedEvent};

/// Appends events to streams and reads them back, per stream and in global order.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` if the stream is at the `expected` version, atomically,
    /// writing an outbox row per appended event in the same transaction.
    ///
    /// Events whose id is already stored are skipped; if every event was already stored the
    /// append is a no-op that succeeds whatever the stream's version (re-delivery is safe).
    /// A version mismatch is [`Error::Conflict`](crate::Error::Conflict).
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome>;

    /// Reads one stream's events in version order, within the query's bounds.
    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>>;

    /// Reads up to `limit` events after `after` in global order. Never returns an event while an
    /// event before it may still commit: a subscriber that stores the last position it saw and
    /// reads on from there sees every event exactly once.
    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>>;

    /// Where the next `pages` pages of up to `page` events after `after` end, for a reader that
    /// reads several pages at the same time with [`read_range`](Self::read_range): the position
    /// of every `page`-th event `read_all` would return now, and of the last one, in order
    /// (empty when nothing is readable). `None` when the backend cannot tell without reading
    /// the events (the default): read page after page with `read_all` instead.
    async fn page_ends(
        &self,
        after: Position,
        page: usize,
        pages: usize,
    ) -> Result<Option<Vec<Position>>> {
        let _ = (after, page, pages);
        Ok(None)
    }

    /// The events after `after` up to and including `through`, in global order, never one that
    /// `read_all` would not return now. When `through` is a position `page_ends` or `read_all`
    /// returned, nothing before it can still commit, so the range is complete: a reader may
    /// read consecutive ranges at the same time and hand them over in order.
    async fn read_range(&self, after: Position, through: Position) -> Result<Vec<RecordedEvent>> {
        let mut events = Vec::new();
        let mut cursor = after;
        while cursor < through {
            let page = self.read_all(cursor, 1000).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            events.extend(page.into_iter().take_while(|e| e.position <= through));
            cursor = last;
        }
        Ok(events)
    }

    /// Whether an event with this id is stored.
    async fn contains_event(&self, event_id: Uuid) -> Result<bool>;

    /// Which of `event_ids` are stored, in no particular order: what a writer of events with
    /// deterministic ids (from a CDC position) asks before deciding a batch of commands again.
    /// The default asks [`EventStore::contains_event`] for each; PostgreSQL answers in one
    /// query.
    async fn stored_event_ids(&self, event_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut stored = Vec::new();
        for &id in event_ids {
            if self.contains_event(id).await? {
                stored.push(id);
            }
        }
        Ok(stored)
    }

    /// The stream's current version; 0 when it has no events.
    async fn stream_version(&self, stream_id: &str) -> Result<u64>;

    /// The position of the last event a reader may see now (`Position::START` when empty).
    async fn head(&self) -> Result<Position>;

    /// Waits until events after `after` may be readable, or `timeout` passed, whichever is
    /// first. Backends with notifications (in memory, PostgreSQL `LISTEN`) wake early; the
    /// default just sleeps, making a live subscription a poll.
    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        let _ = after;
        tokio::time::sleep(timeout).await;
    }
}

/// Stores aggregate snapshots.
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// Saves a snapshot (replacing one of the same stream and version).
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()>;

    /// The newest snapshot of the stream whose last event was recorded at or before `at`
    /// (the newest of all when `at` is `None`).
    async fn load_snapshot(
        &self,
        stream_id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Snapshot>>;
}

/// Stores subscribers' checkpoints by name.
#[async_trait]
pub trait CheckpointStore: Send + Sync + 'static {
    /// The last position the named subscriber handled.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>>;
    /// Records the last position the named subscriber handled.
    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<()>;
}

/// The transactional outbox: one row per appended event, published by a relay.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Up to `limit` unpublished entries, in global order.
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>>;
    /// Marks entries published (after the broker acknowledged them). Mark them in the order
    /// `pending` returned them: a backend may track progress per append, so marking an entry
    /// can also mark the entries of the same append before it.
    async fn mark_published(&self, ids: &[i64]) -> Result<()>;
}

/// Everything a backend provides; what the repository, subscriptions and relay take.
pub trait Store: EventStore + SnapshotStore + CheckpointStore + Outbox {}
impl<T: EventStore + SnapshotStore + CheckpointStore + Outbox> Store for T {}
