//! The in-memory backend: for fixtures and unit tests; nothing survives the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::plan::{Plan, plan};
use super::{
    AppendOutcome, CheckpointStore, EventStore, ExpectedVersion, Outbox, OutboxEntry, Position,
    Snapshot, SnapshotStore, StreamQuery,
};
use crate::Result;
use crate::event::{NewEvent, RecordedEvent};

/// An event store in memory. Cloning shares the same store.
///
/// ```
/// # tokio_test_block_on(async {
/// use keel_core::event::NewEvent;
/// use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, StreamQuery};
///
/// let store = MemoryStore::new();
/// let event = NewEvent { event_type: "OrderPlaced".into(), ..keel_core::doc::new_event() };
/// store.append("order-1", ExpectedVersion::NoStream, vec![event]).await.unwrap();
/// assert_eq!(store.read_stream("order-1", StreamQuery::all()).await.unwrap().len(), 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    appended: Notify,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<RecordedEvent>,
    streams: HashMap<String, Vec<usize>>,
    ids: HashSet<uuid::Uuid>,
    snapshots: HashMap<String, BTreeMap<u64, Snapshot>>,
    checkpoints: HashMap<String, Position>,
    outbox: BTreeMap<i64, usize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written: every mutation
        // below is completed before any call that could panic, so the poison can be ignored.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    #[tracing::instrument(name = "keel.append", skip_all, fields(stream_id = %stream_id, events = events.len()))]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        let outcome = {
            let mut state = self.state();
            let actual = state.streams.get(stream_id).map_or(0, |v| v.len() as u64);
            let (fresh, duplicates) = match plan(stream_id, expected, actual, events, |id| {
                state.ids.contains(id)
            })? {
                Plan::Done(outcome) => return Ok(outcome),
                Plan::Write { fresh, duplicates } => (fresh, duplicates),
            };
            let recorded_at = super::time::now();
            let mut appended = Vec::with_capacity(fresh.len());
            for (i, event) in fresh.into_iter().enumerate() {
                let index = state.events.len();
                let recorded = RecordedEvent {
                    event_id: event.event_id,
                    stream_id: stream_id.to_owned(),
                    stream_version: actual + 1 + i as u64,
                    position: Position::new(0, index as u64 + 1),
                    occurred_at: super::time::truncate(event.occurred_at),
                    recorded_at,
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    payload: event.payload,
                    metadata: event.metadata,
                };
                state.ids.insert(recorded.event_id);
                state
                    .streams
                    .entry(stream_id.to_owned())
                    .or_default()
                    .push(index);
                state.outbox.insert(index as i64 + 1, index);
                state.events.push(recorded.clone());
                appended.push(recorded);
            }
            let stream_version = actual + appended.len() as u64;
            AppendOutcome {
                stream_version,
                appended,
                duplicates,
            }
        };
        self.inner.appended.notify_waiters();
        Ok(outcome)
    }

    async fn read_stream(&self, stream_id: &str, query: StreamQuery) -> Result<Vec<RecordedEvent>> {
        let state = self.state();
        let Some(indices) = state.streams.get(stream_id) else {
            return Ok(vec![]);
        };
        Ok(indices
            .iter()
            .map(|&i| &state.events[i])
            .filter(|e| e.stream_version >= query.from_version)
            .take_while(|e| query.recorded_until.is_none_or(|t| e.recorded_at <= t))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        let state = self.state();
        let start = usize::try_from(after.seq).unwrap_or(usize::MAX);
        Ok(state
            .events
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn contains_event(&self, event_id: uuid::Uuid) -> Result<bool> {
        Ok(self.state().ids.contains(&event_id))
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        Ok(self
            .state()
            .streams
            .get(stream_id)
            .map_or(0, |v| v.len() as u64))
    }

    async fn head(&self) -> Result<Position> {
        Ok(self
            .state()
            .events
            .last()
            .map_or(Position::START, |e| e.position))
    }

    async fn wait_for_new(&self, after: Position, timeout: Duration) {
        let notified = self.inner.appended.notified();
        if self.head().await.is_ok_and(|head| head > after) {
            return;
        }
        let _ = tokio::time::timeout(timeout, notified).await;
    }
}

#[async_trait]
impl SnapshotStore for MemoryStore {
    async fn save_snapshot(&self, mut snapshot: Snapshot) -> Result<()> {
        snapshot.last_recorded_at = super::time::truncate(snapshot.last_recorded_at);
        self.state()
            .snapshots
            .entry(snapshot.stream_id.clone())
            .or_default()
            .insert(snapshot.stream_version, snapshot);
        Ok(())
    }

    async fn load_snapshot(
        &self,
        stream_id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Snapshot>> {
        let state = self.state();
        Ok(state.snapshots.get(stream_id).and_then(|by_version| {
            by_version
                .values()
                .rev()
                .find(|s| at.is_none_or(|t| s.last_recorded_at <= t))
                .cloned()
        }))
    }
}

#[async_trait]
impl CheckpointStore for MemoryStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>> {
        Ok(self.state().checkpoints.get(name).copied())
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<()> {
        self.state().checkpoints.insert(name.to_owned(), position);
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let state = self.state();
        Ok(state
            .outbox
            .iter()
            .take(limit)
            .map(|(&id, &i)| OutboxEntry {
                id,
                event: state.events[i].clone(),
            })
            .collect())
    }

    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        let mut state = self.state();
        for id in ids {
            state.outbox.remove(id);
        }
        Ok(())
    }
}
