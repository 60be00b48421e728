//! The [`ProjectionRunner`]: reads the store's global order from the projection's checkpoint,
//! batches by size and time, writes to the sinks, and commits the checkpoint only after every
//! sink acknowledged.

mod lag;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod retry;

use std::future::Future;
use std::sync::Arc;

use keel_core::event::Upcasters;
use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position, RecordedEvent};
use tokio::time::Instant;

pub use lag::Lag;

use crate::Result;
use crate::config::RunnerConfig;
use crate::dead_letter::DeadLetterStore;
use crate::projection::Projection;
use crate::sink::Sink;
use pipeline::Pipeline;

/// Runs one projection: events in, versioned documents out, checkpoint after acknowledgement.
///
/// The first sink is the one documents are read back from to apply the next event (a partial
/// update needs the current document); every sink receives every change.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::{EventStore, ExpectedVersion, MemoryStore};
/// use keel_core::doc::CounterEvent;
/// use keel_core::NewEvent;
/// use keel_projections::{DocChange, Envelope, Projection, ProjectionRunner};
/// use keel_projections::sinks::MemorySink;
///
/// struct Totals;
/// impl Projection for Totals {
///     type Event = CounterEvent;
///     type Doc = i64;
///     fn name(&self) -> &str { "totals" }
///     fn apply(&self, e: &Envelope<'_, CounterEvent>, doc: Option<i64>) -> DocChange<i64> {
///         let CounterEvent::Added { by } = e.event;
///         DocChange::Upsert(doc.unwrap_or(0) + by)
///     }
/// }
///
/// let store = MemoryStore::new();
/// let added = NewEvent::from_domain(&CounterEvent::Added { by: 2 }).unwrap();
/// store.append("c-1", ExpectedVersion::Any, vec![added.clone(), added.with_id(uuid::Uuid::new_v4())]).await.unwrap();
/// let sink = MemorySink::new();
/// let runner = ProjectionRunner::new(store, Totals).with_sink(sink.clone());
/// assert_eq!(runner.catch_up().await.unwrap(), 2);
/// assert_eq!(sink.document("c-1"), Some(serde_json::json!(4)));
/// assert_eq!(runner.lag().await.unwrap().events_behind, 0);
/// # });
/// ```
pub struct ProjectionRunner<S, P> {
    store: S,
    pipeline: Pipeline<P>,
    checkpoint: String,
    /// Held (shared) while a batch is written and checkpointed; a rebuild takes it exclusively
    /// to hold the runner still while it switches generations.
    gate: Arc<tokio::sync::RwLock<()>>,
}

impl<S, P> std::fmt::Debug for ProjectionRunner<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("checkpoint", &self.checkpoint)
            .field("pipeline", &self.pipeline)
            .finish_non_exhaustive()
    }
}

impl<S: EventStore + CheckpointStore, P: Projection> ProjectionRunner<S, P> {
    /// A runner for `projection` over `store`, with the default [`RunnerConfig`] and no sink yet.
    /// Its checkpoint is stored under `projection:<name>`.
    pub fn new(store: S, projection: P) -> Self {
        let checkpoint = format!("projection:{}", projection.name());
        Self {
            store,
            pipeline: Pipeline::new(projection),
            checkpoint,
            gate: Arc::default(),
        }
    }

    /// Adds a sink; the first one added is also where documents are read back from.
    #[must_use]
    pub fn with_sink(mut self, sink: impl Sink) -> Self {
        self.pipeline.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink.
    #[must_use]
    pub fn with_shared_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.pipeline.sinks.push(sink);
        self
    }

    /// Sets the dead-letter destination: events that do not decode go there when
    /// `errors.tolerance` is `all`, and documents a sink refuses for good always do (besides
    /// being logged). Letters are durable before the checkpoint moves past their events.
    #[must_use]
    pub fn with_dead_letters(mut self, destination: impl DeadLetterStore) -> Self {
        self.pipeline.dead_letters = Some(Arc::new(destination));
        self
    }

    /// Sets the configuration, refusing invalid values.
    pub fn with_config(mut self, config: RunnerConfig) -> Result<Self> {
        config.validate()?;
        self.pipeline.config = config;
        Ok(self)
    }

    /// Sets the upcasters that lift old payloads to the versions the projection reads.
    #[must_use]
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.pipeline.upcasters = Arc::new(upcasters);
        self
    }

    /// The projection's name.
    pub fn name(&self) -> &str {
        self.pipeline.name()
    }

    /// The key its checkpoint is stored under.
    pub fn checkpoint_name(&self) -> &str {
        &self.checkpoint
    }

    /// The committed checkpoint: every event up to it is durable in every sink.
    pub async fn checkpoint(&self) -> Result<Position> {
        Ok(self
            .store
            .load_checkpoint(&self.checkpoint)
            .await?
            .unwrap_or(Position::START))
    }

    /// How far the committed checkpoint is behind the store.
    pub async fn lag(&self) -> Result<Lag> {
        lag::measure(&self.store, self.checkpoint().await?).await
    }

    /// Projects every event readable now, in batches of `batch.size`, and returns how many
    /// events were read (handled or skipped).
    pub async fn catch_up(&self) -> Result<usize> {
        self.catch_up_with(|_| {}).await
    }

    /// Projects from the checkpoint, then follows live appends until `shutdown` completes.
    /// A partial batch is flushed once `flush.timeout.ms` passed since its first event.
    /// Events read but not yet acknowledged when shutdown comes are read again next time.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.pipeline.check()?;
        tokio::select! {
            () = shutdown => Ok(()),
            result = self.follow() => result,
        }
    }

    async fn follow(&self) -> Result<()> {
        let mut cursor = self.checkpoint().await?;
        let mut buffer: Vec<RecordedEvent> = Vec::new();
        let mut deadline: Option<Instant> = None;
        loop {
            let due = deadline.is_some_and(|d| Instant::now() >= d);
            if buffer.len() >= self.pipeline.config.batch_size || (due && !buffer.is_empty()) {
                self.flush(&buffer).await?;
                buffer.clear();
                deadline = None;
                continue;
            }
            let room = self.pipeline.config.batch_size - buffer.len();
            let events = self.store.read_all(cursor, room).await?;
            if let Some(last) = events.last().map(|e| e.position) {
                cursor = last;
                deadline
                    .get_or_insert_with(|| Instant::now() + self.pipeline.config.flush_timeout());
                buffer.extend(events);
                continue;
            }
            let wait = deadline.map_or(self.pipeline.config.poll_interval(), |d| {
                d.saturating_duration_since(Instant::now())
            });
            self.store.wait_for_new(cursor, wait).await;
        }
    }

    /// Writes one batch, puts its dead letters, and commits the checkpoint after its last event.
    async fn flush(&self, batch: &[RecordedEvent]) -> Result<()> {
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(());
        };
        let _gate = self.gate.read().await;
        let applied = self.pipeline.apply(batch, Vec::new()).await?;
        self.store.save_checkpoint(&self.checkpoint, last).await?;
        tracing::debug!(projection = self.name(), events = batch.len(), changes = applied.changes, dead_letters = applied.dead_letters, checkpoint = %last, "Batch committed.");
        Ok(())
    }

    /// A runner of the same projection, store and configuration, with its own checkpoint
    /// (`<checkpoint>:<suffix>`) and these sinks: what a rebuild fills the new generation with.
    pub(crate) fn sibling(&self, suffix: &str, sinks: Vec<Arc<dyn Sink>>) -> Self
    where
        S: Clone,
    {
        Self {
            store: self.store.clone(),
            pipeline: self.pipeline.with_sinks(sinks),
            checkpoint: format!("{}:{suffix}", self.checkpoint),
            gate: Arc::default(),
        }
    }

    /// Holds the runner still: no batch is written or checkpointed until the guard is dropped.
    pub(crate) async fn hold(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    /// The store it reads.
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// Like [`catch_up`](Self::catch_up), calling `progress` with the last position after each batch.
    pub(crate) async fn catch_up_with(&self, mut progress: impl FnMut(Position)) -> Result<usize> {
        self.pipeline.check()?;
        let mut cursor = self.checkpoint().await?;
        let mut total = 0;
        loop {
            let batch = self
                .store
                .read_all(cursor, self.pipeline.config.batch_size)
                .await?;
            let Some(last) = batch.last().map(|e| e.position) else {
                return Ok(total);
            };
            self.flush(&batch).await?;
            total += batch.len();
            cursor = last;
            progress(last);
        }
    }
}
