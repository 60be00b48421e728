//! A store wrapper that counts what the store returns, so tests can assert on how much a load
//! read instead of timing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;
use crate::event::{NewEvent, RecordedEvent};
use crate::store::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, Outbox, OutboxEntry, Position,
    Snapshot, SnapshotStore, StreamQuery,
};

/// Wraps a store and counts the events `read_stream` returned, the snapshots loaded and the
/// checkpoint reads.
#[derive(Debug, Clone)]
pub struct CountingStore<S> {
    inner: S,
    events_read: Arc<AtomicUsize>,
    snapshots_loaded: Arc<AtomicUsize>,
    checkpoints_loaded: Arc<AtomicUsize>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            events_read: Arc::default(),
            snapshots_loaded: Arc::default(),
            checkpoints_loaded: Arc::default(),
        }
    }

    /// Events returned by `read_stream` since the last reset.
    pub fn events_read(&self) -> usize {
        self.events_read.load(Ordering::SeqCst)
    }

    /// Snapshots returned by `load_snapshot` since the last reset.
    pub fn snapshots_loaded(&self) -> usize {
        self.snapshots_loaded.load(Ordering::SeqCst)
    }

    /// Calls of `load_checkpoint` since the last reset.
    pub fn checkpoints_loaded(&self) -> usize {
        self.checkpoints_loaded.load(Ordering::SeqCst)
    }

    /// Sets every counter to 0.
    pub fn reset(&self) {
        self.events_read.store(0, Ordering::SeqCst);
        self.snapshots_loaded.store(0, Ordering::SeqCst);
        self.checkpoints_loaded.store(0, Ordering::SeqCst);
    }
}

#[async_trait]
impl<S: EventStore> EventStore for CountingStore<S> {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        self.inner.append(stream_id, expected, events).await
    }

    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        let events = self.inner.read_stream(stream_id, query).await?;
        self.events_read.fetch_add(events.len(), Ordering::SeqCst);
        Ok(events)
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.inner.read_all(after, limit).await
    }

    async fn page_ends(
        &self,
        after: Position,
        page: usize,
        pages: usize,
    ) -> Result<Option<Vec<Position>>> {
        self.inner.page_ends(after, page, pages).await
    }

    async fn read_range(&self, after: Position, through: Position) -> Result<Vec<RecordedEvent>> {
        self.inner.read_range(after, through).await
    }

    async fn contains_event(&self, event_id: Uuid) -> Result<bool> {
        self.inner.contains_event(event_id).await
    }

    async fn stored_event_ids(&self, event_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        self.inner.stored_event_ids(event_ids).await
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        self.inner.stream_version(stream_id).await
    }

    async fn head(&self) -> Result<Position> {
        self.inner.head().await
    }

    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        self.inner.wait_for_new(after, timeout).await;
    }
}

#[async_trait]
impl<S: SnapshotStore> SnapshotStore for CountingStore<S> {
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.inner.save_snapshot(snapshot).await
    }

    async fn load_snapshot(
        &self,
        stream_id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Snapshot>> {
        let snapshot = self.inner.load_snapshot(stream_id, at).await?;
        if snapshot.is_some() {
            self.snapshots_loaded.fetch_add(1, Ordering::SeqCst);
        }
        Ok(snapshot)
    }
}

#[async_trait]
impl<S: CheckpointStore> CheckpointStore for CountingStore<S> {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>> {
        self.checkpoints_loaded.fetch_add(1, Ordering::SeqCst);
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<()> {
        self.inner.save_checkpoint(name, position).await
    }
}

#[async_trait]
impl<S: Outbox> Outbox for CountingStore<S> {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.inner.pending(limit).await
    }

    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        self.inner.mark_published(ids).await
    }
}
