//! The [`ProjectionRunner`]: reads the store's global order from the projection's checkpoint,
//! batches by size and time, writes to the sinks, and commits the checkpoint only after every
//! sink acknowledged.
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`ProjectionRunner`]: catch-up, follow, the hold |
//! | `source.rs` | the batches, read ahead by a task of their own (bounded), fanned out to lanes |
//! | `flow.rs` | the batch loop: planner, writer (batches in flight), checkpointer |
//! | `lanes.rs` | following with one lane per sink, the checkpoint the least of theirs |
//! | `pipeline.rs` | a batch decoded and each sink's changes planned |
//! | `load.rs` | the documents a plan starts from: loaded, from recent batches, or restored |
//! | `documents.rs` | the documents a sink acknowledged last, kept while following |
//! | `plan.rs` | events folded into one change per document; which documents need loading |
//! | `write.rs` | the changes written to every sink, refusals and dead letters put |
//! | `retry.rs` | retries with backoff while a sink is down |
//! | `lag.rs` | [`Lag`]: events and milliseconds behind the store |

mod documents;
mod flow;
mod lag;
mod lanes;
mod load;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod retry;
mod source;
mod write;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keel_core::event::Upcasters;
use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position};

pub use lag::Lag;

use crate::Result;
use crate::config::RunnerConfig;
use crate::dead_letter::DeadLetterStore;
use crate::projection::Projection;
use crate::sink::Sink;
use pipeline::Pipeline;
use source::{Batches, Reads};

/// Runs one projection: events in, versioned documents out, checkpoint after acknowledgement.
///
/// Each sink's documents are read back from that sink to apply the next events (a partial
/// update needs the current document), except a document a sink lost that another one keeps
/// (a TTL ran out), which is planned from the other's copy; every sink receives every change.
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
    store: Arc<S>,
    pipeline: Pipeline<P>,
    checkpoint: String,
    /// Held (shared) while a batch is written and checkpointed; a rebuild takes it exclusively
    /// to hold the runner still while it switches generations.
    gate: Arc<tokio::sync::RwLock<()>>,
    /// Moved when a rebuild switched generations: the documents kept while following are of
    /// the old one.
    epoch: Arc<AtomicU64>,
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
            store: Arc::new(store),
            pipeline: Pipeline::new(projection),
            checkpoint,
            gate: Arc::default(),
            epoch: Arc::default(),
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
        lag::measure(&*self.store, self.checkpoint().await?).await
    }

    /// Projects every event readable now, in batches of `batch.size`, and returns how many
    /// events were read (handled or skipped).
    pub async fn catch_up(&self) -> Result<usize> {
        self.catch_up_with(|_| {}).await
    }

    /// Projects from the checkpoint, then follows live appends until `shutdown` completes.
    /// A partial batch is flushed once `flush.timeout.ms` passed since its first event. With
    /// several sinks, each one follows in a lane of its own, the checkpoint being the least
    /// position all of them acknowledged (ADR 0051).
    /// Events read but not yet acknowledged when shutdown comes are read again next time.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.pipeline.check()?;
        tokio::select! {
            () = shutdown => Ok(()),
            result = self.follow() => result,
        }
    }

    async fn follow(&self) -> Result<()> {
        let after = self.checkpoint().await?;
        if self.pipeline.sinks.len() > 1 {
            return self.follow_in_lanes(after).await;
        }
        let batches = Batches::follow(Arc::clone(&self.store), after, self.pipeline.config.clone());
        let pipeline = self
            .pipeline
            .with_sinks(self.pipeline.sinks.clone())
            .remembering(&self.epoch);
        self.project(&pipeline, batches, after, |_| {})
            .await
            .map(|_| ())
    }

    /// A runner of the same projection, store and configuration, with its own checkpoint
    /// (`<checkpoint>:<suffix>`) and these sinks: what a rebuild fills the new generation with.
    pub(crate) fn sibling(&self, suffix: &str, sinks: Vec<Arc<dyn Sink>>) -> Self
    where
        S: Clone,
    {
        Self {
            store: Arc::clone(&self.store),
            pipeline: self.pipeline.with_sinks(sinks),
            checkpoint: format!("{}:{suffix}", self.checkpoint),
            gate: Arc::default(),
            epoch: Arc::default(),
        }
    }

    /// Holds the runner still: no batch is written or checkpointed until the guard is dropped.
    pub(crate) async fn hold(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    /// Says that a rebuild switched its sinks to a new generation (while holding it): the
    /// documents kept while following are dropped.
    pub(crate) fn switched(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The store it reads.
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// Like [`catch_up`](Self::catch_up), calling `progress` with the last position after each batch.
    pub(crate) async fn catch_up_with(&self, progress: impl FnMut(Position)) -> Result<usize> {
        self.pipeline.check()?;
        let after = self.checkpoint().await?;
        let config = &self.pipeline.config;
        let reads = Reads {
            size: config.read_size,
            concurrency: config.read_concurrency,
        };
        let batches = Batches::catch_up(Arc::clone(&self.store), after, reads, config.batch_size);
        self.project(&self.pipeline, batches, after, progress).await
    }
}
