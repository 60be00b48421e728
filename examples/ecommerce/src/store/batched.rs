//! Commands batched per stream: while a stream's append runs, the commands that arrive for it
//! queue up, and the next batch loads the aggregate once, decides every queued command in
//! order and appends all their events in one append. One order's row and its items, or many
//! reservations of one product, cost one load and one append instead of one each, and they
//! never conflict with each other in this process.
//!
//! Each command keeps its own metadata, and a command from CDC (`metadata.source`) its
//! deterministic event ids; one whose first event is already stored was handled before and is
//! answered as a duplicate without deciding it again, as `Repository::execute` does. A conflict
//! (another process appended meanwhile) reloads and decides the batch again.
//!
//! With [`Batched::lingering`], the first command for an idle stream waits a moment for
//! others, so that commands which arrive a few milliseconds apart share a batch too.
//!
//! With [`Batched::keeping_state`], the state after each batch stays in memory (for the
//! 10,000 streams written last) and the next batch starts from it instead of loading: for
//! streams this process writes nearly alone (the inventory participant's 40 product streams,
//! the translator's orders until their sagas decide them). A stale state is harmless: the
//! append expects the version the batch was decided on, so it conflicts and the batch is
//! decided again on a fresh load.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use keel::repository::Loaded;
use keel::store::{PostgresStore, Snapshot, Store};
use keel::{
    Aggregate, ExpectedVersion, Metadata, NewEvent, RecordedEvent, Repository, SnapshotPolicy,
};
use tokio::sync::oneshot;
use tracing::Instrument;
use uuid::Uuid;

/// How often a batch is decided again after a conflict before its commands fail (retryable).
const CONFLICT_RETRIES: u32 = 10;
/// The most commands one batch takes.
const MAX_BATCH: usize = 256;
/// The most streams whose state [`Batched::keeping_state`] keeps; the oldest kept are
/// forgotten first (their next batch loads).
const KEPT_STREAMS: usize = 10_000;

/// What a command did.
#[derive(Debug)]
pub struct Done<A> {
    /// The stream's state after the batch that included the command.
    pub state: Arc<A>,
    /// The events the command appended (none when it decided nothing, or was a duplicate).
    pub events: Vec<RecordedEvent>,
    /// True when its events were already stored: a re-delivery, not decided again.
    pub duplicate: bool,
}

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum Refused<E: std::error::Error + 'static> {
    /// The aggregate refused it (a business rule).
    #[error("rejected: {0}")]
    Rejected(#[source] E),
    /// The store failed, or the stream kept changing under the batch; `retryable` says whether
    /// sending the command again may succeed.
    #[error("{reason}")]
    Failed {
        /// What went wrong, naming the stream.
        reason: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
}

/// One aggregate type's commands on store `S`, batched per stream. Clones share the queues.
pub struct Batched<A: Aggregate, S = PostgresStore> {
    inner: Arc<Inner<A, S>>,
}

impl<A: Aggregate, S> Clone for Batched<A, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<A: Aggregate, S> {
    store: S,
    repository: Repository<A, S>,
    options: Options,
    lanes: Mutex<Lanes<A>>,
}

/// The streams' queues, and the streams whose state is kept, oldest first.
struct Lanes<A: Aggregate> {
    by_stream: HashMap<String, Lane<A>>,
    kept: VecDeque<String>,
}

#[derive(Debug, Clone, Copy)]
struct Options {
    snapshots: SnapshotPolicy,
    keep_state: bool,
    linger: Duration,
}

/// One stream's queue; `busy` while a task runs its batches; `listed` while its name is in
/// [`Lanes::kept`].
struct Lane<A: Aggregate> {
    queue: Vec<Pending<A>>,
    busy: bool,
    state: Option<Kept<A>>,
    listed: bool,
}

/// A state kept between batches.
struct Kept<A> {
    state: Arc<A>,
    version: u64,
    last_recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

struct Pending<A: Aggregate> {
    command: A::Command,
    metadata: Metadata,
    span: tracing::Span,
    answer: oneshot::Sender<Result<Done<A>, Refused<A::Error>>>,
}

type Answer<A> = Result<Done<A>, Refused<<A as Aggregate>::Error>>;

impl<A, S> Batched<A, S>
where
    A: Aggregate + Clone,
    A::Command: Clone,
    S: Store + Clone,
{
    /// Commands on `store`, snapshotting as `snapshots` says.
    pub fn new(store: S, snapshots: SnapshotPolicy) -> Self {
        Self::build(
            store,
            Options {
                snapshots,
                keep_state: false,
                linger: Duration::ZERO,
            },
        )
    }

    /// Keeps each stream's state in memory between batches (see the module docs).
    #[must_use]
    pub fn keeping_state(self) -> Self {
        let options = Options {
            keep_state: true,
            ..self.inner.options
        };
        Self::build(self.inner.store.clone(), options)
    }

    /// Lets the first command for an idle stream wait `linger` for others before its batch
    /// is decided (like Kafka's `linger.ms`): commands that arrive a moment apart, such as an
    /// order's row and its items, then share one load and one append.
    #[must_use]
    pub fn lingering(self, linger: Duration) -> Self {
        let options = Options {
            linger,
            ..self.inner.options
        };
        Self::build(self.inner.store.clone(), options)
    }

    fn build(store: S, options: Options) -> Self {
        Self {
            inner: Arc::new(Inner {
                repository: Repository::new(store.clone()).with_snapshots(options.snapshots),
                store,
                options,
                lanes: Mutex::new(Lanes {
                    by_stream: HashMap::new(),
                    kept: VecDeque::new(),
                }),
            }),
        }
    }

    /// Decides `command` on stream `stream` with the commands queued beside it and appends
    /// its events with `metadata` (plus the current span's trace context).
    pub async fn execute(
        &self,
        stream: &str,
        command: A::Command,
        metadata: Metadata,
    ) -> Answer<A> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            command,
            metadata: keel::telemetry::with_current_context(metadata),
            span: tracing::Span::current(),
            answer,
        };
        let start = {
            let mut lanes = self
                .inner
                .lanes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let lane = lanes
                .by_stream
                .entry(stream.to_owned())
                .or_insert_with(|| Lane {
                    queue: Vec::new(),
                    busy: false,
                    state: None,
                    listed: false,
                });
            lane.queue.push(pending);
            !std::mem::replace(&mut lane.busy, true)
        };
        if start {
            tokio::spawn(Arc::clone(&self.inner).drain(stream.to_owned()));
        }
        answered.await.unwrap_or_else(|_| {
            Err(Refused::Failed {
                reason: format!("the batch of `{stream}` stopped (is the runtime shutting down?)"),
                retryable: true,
            })
        })
    }
}

impl<A, S> Inner<A, S>
where
    A: Aggregate + Clone,
    A::Command: Clone,
    S: Store + Clone,
{
    /// Runs the stream's batches until its queue is empty.
    async fn drain(self: Arc<Self>, stream: String) {
        if !self.options.linger.is_zero() {
            tokio::time::sleep(self.options.linger).await;
        }
        loop {
            let (batch, kept) = {
                let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(lane) = lanes.by_stream.get_mut(&stream) else {
                    return;
                };
                if lane.queue.is_empty() {
                    lane.busy = false;
                    // A listed lane stays until its turn in `kept` comes: removed now, its
                    // name would stay listed and a new lane of the stream be listed twice.
                    if lane.state.is_none() && !lane.listed {
                        lanes.by_stream.remove(&stream);
                    }
                    return;
                }
                let take = lane.queue.len().min(MAX_BATCH);
                (
                    lane.queue.drain(..take).collect::<Vec<_>>(),
                    lane.state.take(),
                )
            };
            let span = batch
                .first()
                .map_or_else(tracing::Span::none, |p| p.span.clone());
            // A panicking aggregate fails its batch (the callers see a retryable failure), not
            // the stream: the next batch runs.
            let run = AssertUnwindSafe(self.run(&stream, batch, kept)).catch_unwind();
            let kept = run.instrument(span).await.unwrap_or_else(|_| {
                tracing::error!(stream, "deciding a batch panicked");
                None
            });
            if self.options.keep_state {
                let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                lanes.keep(&stream, kept);
            }
        }
    }

    /// Decides and appends one batch, answers every command in it, and returns the state
    /// after it (none after a failure).
    async fn run(
        &self,
        stream: &str,
        batch: Vec<Pending<A>>,
        mut kept: Option<Kept<A>>,
    ) -> Option<Kept<A>> {
        let (batch, duplicates) = match self.split_duplicates(batch).await {
            Ok(split) => split,
            Err((batch, reason, retryable)) => {
                fail(batch, &reason, retryable);
                return None;
            }
        };
        for attempt in 0.. {
            let mut current = match kept.take() {
                Some(kept) => kept,
                None => match self.repository.load(stream).await {
                    Ok(loaded) => Kept::from(loaded),
                    Err(error) => {
                        fail(
                            batch.into_iter().chain(duplicates),
                            &format!("loading `{stream}`: {error}"),
                            error.is_retryable(),
                        );
                        return None;
                    }
                },
            };
            let before = current.version;
            let state = Arc::make_mut(&mut current.state);
            let mut events = Vec::new();
            let mut decided = Vec::with_capacity(batch.len());
            for pending in &batch {
                decided.push(decide(state, pending, &mut events));
            }
            let appended = if events.is_empty() {
                Vec::new()
            } else {
                match self
                    .store
                    .append(stream, ExpectedVersion::Exact(before), events)
                    .await
                {
                    Ok(outcome) => {
                        current.version = outcome.stream_version;
                        current.last_recorded_at = outcome
                            .appended
                            .last()
                            .map(|e| e.recorded_at)
                            .or(current.last_recorded_at);
                        outcome.appended
                    }
                    Err(keel::Error::Conflict { .. }) if attempt < CONFLICT_RETRIES => continue,
                    Err(error) => {
                        let retryable =
                            error.is_retryable() || matches!(error, keel::Error::Conflict { .. });
                        fail(
                            batch.into_iter().chain(duplicates),
                            &format!("appending to `{stream}`: {error}"),
                            retryable,
                        );
                        return None;
                    }
                }
            };
            if self.options.snapshots.due(before, current.version) {
                self.snapshot(stream, &current).await;
            }
            answer(batch, decided, duplicates, &appended, &current.state);
            return Some(current);
        }
        None
    }

    /// Splits off the commands from CDC whose first event is stored: handled before a crash.
    #[allow(clippy::type_complexity)]
    async fn split_duplicates(
        &self,
        batch: Vec<Pending<A>>,
    ) -> Result<(Vec<Pending<A>>, Vec<Pending<A>>), (Vec<Pending<A>>, String, bool)> {
        let first_ids: Vec<Option<Uuid>> = batch
            .iter()
            .map(|p| p.metadata.source.as_ref().map(|s| s.event_id(0)))
            .collect();
        let asked: Vec<Uuid> = first_ids.iter().flatten().copied().collect();
        // One query for the whole batch (most batches hold several commands from CDC).
        let stored: HashSet<Uuid> = match self.store.stored_event_ids(&asked).await {
            Ok(stored) => stored.into_iter().collect(),
            Err(error) => {
                let retryable = error.is_retryable();
                return Err((batch, format!("looking up event ids: {error}"), retryable));
            }
        };
        let (mut fresh, mut duplicates) = (Vec::new(), Vec::new());
        for (pending, id) in batch.into_iter().zip(first_ids) {
            if id.is_some_and(|id| stored.contains(&id)) {
                duplicates.push(pending)
            } else {
                fresh.push(pending)
            }
        }
        Ok((fresh, duplicates))
    }

    async fn snapshot(&self, stream: &str, kept: &Kept<A>) {
        let Some(last_recorded_at) = kept.last_recorded_at else {
            return;
        };
        let saved = match serde_json::to_value(&*kept.state) {
            Ok(state) => {
                self.store
                    .save_snapshot(Snapshot {
                        stream_id: stream.to_owned(),
                        aggregate_type: A::TYPE.to_owned(),
                        stream_version: kept.version,
                        schema_version: A::SNAPSHOT_VERSION,
                        last_recorded_at,
                        state,
                    })
                    .await
            }
            Err(error) => Err(keel::Error::Serialize {
                what: format!("snapshot of `{stream}`"),
                source: error,
            }),
        };
        if let Err(error) = saved {
            // The events are stored; the next snapshot point tries again.
            tracing::warn!(%error, stream, "saving a snapshot failed");
        }
    }
}

impl<A: Aggregate> Lanes<A> {
    /// Keeps `state` as `stream`'s, forgetting the oldest kept states beyond [`KEPT_STREAMS`]
    /// (an idle stream's lane goes with its state).
    fn keep(&mut self, stream: &str, state: Option<Kept<A>>) {
        let Some(lane) = self.by_stream.get_mut(stream) else {
            return;
        };
        lane.state = state;
        if lane.state.is_some() && !lane.listed {
            lane.listed = true;
            self.kept.push_back(stream.to_owned());
        }
        while self.kept.len() > KEPT_STREAMS {
            let Some(oldest) = self.kept.pop_front() else {
                break;
            };
            if let Some(lane) = self.by_stream.get_mut(&oldest) {
                lane.listed = false;
                lane.state = None;
                if !lane.busy && lane.queue.is_empty() {
                    self.by_stream.remove(&oldest);
                }
            }
        }
    }
}

impl<A> From<Loaded<A>> for Kept<A> {
    fn from(loaded: Loaded<A>) -> Self {
        Self {
            state: Arc::new(loaded.state),
            version: loaded.version,
            last_recorded_at: loaded.last_recorded_at,
        }
    }
}

/// Decides one command on `state`: its events join `events` (with its ids and metadata) and
/// are applied; returns the ids of its events, or the aggregate's rejection.
fn decide<A: Aggregate>(
    state: &mut A,
    pending: &Pending<A>,
    events: &mut Vec<NewEvent>,
) -> Result<Vec<Uuid>, Refused<A::Error>>
where
    A::Command: Clone,
{
    let decided = state
        .handle(pending.command.clone())
        .map_err(Refused::Rejected)?;
    let mut new = Vec::with_capacity(decided.len());
    for (i, event) in decided.iter().enumerate() {
        let id = match &pending.metadata.source {
            Some(source) => source.event_id(u32::try_from(i).unwrap_or(u32::MAX)),
            None => Uuid::new_v4(),
        };
        let event = NewEvent::from_domain(event).map_err(|error| Refused::Failed {
            reason: error.to_string(),
            retryable: false,
        })?;
        new.push(event.with_id(id).with_metadata(pending.metadata.clone()));
    }
    for event in &decided {
        state.apply(event);
    }
    let ids = new.iter().map(|e| e.event_id).collect();
    events.extend(new);
    Ok(ids)
}

/// Answers each command with its own events (by id) and the state after the batch.
fn answer<A: Aggregate>(
    batch: Vec<Pending<A>>,
    decided: Vec<Result<Vec<Uuid>, Refused<A::Error>>>,
    duplicates: Vec<Pending<A>>,
    appended: &[RecordedEvent],
    state: &Arc<A>,
) {
    for (pending, decided) in batch.into_iter().zip(decided) {
        let outcome = decided.map(|ids| Done {
            state: Arc::clone(state),
            events: appended
                .iter()
                .filter(|e| ids.contains(&e.event_id))
                .cloned()
                .collect(),
            duplicate: false,
        });
        let _ = pending.answer.send(outcome);
    }
    for pending in duplicates {
        let _ = pending.answer.send(Ok(Done {
            state: Arc::clone(state),
            events: Vec::new(),
            duplicate: true,
        }));
    }
}

fn fail<A: Aggregate>(batch: impl IntoIterator<Item = Pending<A>>, reason: &str, retryable: bool) {
    for pending in batch {
        let _ = pending.answer.send(Err(Refused::Failed {
            reason: reason.to_owned(),
            retryable,
        }));
    }
}

#[cfg(test)]
mod tests;
