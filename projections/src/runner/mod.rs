//! The [`ProjectionRunner`]: reads the store's global order from the projection's checkpoint,
//! batches by size and time, writes to the sinks, and commits the checkpoint only after every
//! sink acknowledged.

mod lag;
pub(crate) mod plan;
mod retry;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use keel_core::event::Upcasters;
use keel_core::store::CheckpointStore;
use keel_core::{EventStore, Position, RecordedEvent};
use tokio::time::Instant;

pub use lag::Lag;

use crate::config::{ErrorTolerance, RunnerConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStage, DeadLetterStore};
use crate::projection::Projection;
use crate::sink::{Change, Sink, Stored, WriteReport};
use crate::{Error, Result};

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
    projection: Arc<P>,
    sinks: Vec<Arc<dyn Sink>>,
    config: RunnerConfig,
    upcasters: Arc<Upcasters>,
    checkpoint: String,
    /// Where skipped events and refused documents go.
    dead_letters: Option<Arc<dyn DeadLetterStore>>,
    /// Held (shared) while a batch is written and checkpointed; a rebuild takes it exclusively
    /// to hold the runner still while it switches generations.
    gate: Arc<tokio::sync::RwLock<()>>,
}

impl<S, P> std::fmt::Debug for ProjectionRunner<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("checkpoint", &self.checkpoint)
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("config", &self.config)
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
            projection: Arc::new(projection),
            sinks: Vec::new(),
            config: RunnerConfig::default(),
            upcasters: Arc::new(Upcasters::new()),
            checkpoint,
            dead_letters: None,
            gate: Arc::default(),
        }
    }

    /// Adds a sink; the first one added is also where documents are read back from.
    #[must_use]
    pub fn with_sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink.
    #[must_use]
    pub fn with_shared_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Sets the dead-letter destination: events that do not decode go there when
    /// `errors.tolerance` is `all`, and documents a sink refuses for good always do (besides
    /// being logged). Letters are durable before the checkpoint moves past their events.
    #[must_use]
    pub fn with_dead_letters(mut self, destination: impl DeadLetterStore) -> Self {
        self.dead_letters = Some(Arc::new(destination));
        self
    }

    /// Sets the configuration, refusing invalid values.
    pub fn with_config(mut self, config: RunnerConfig) -> Result<Self> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// Sets the upcasters that lift old payloads to the versions the projection reads.
    #[must_use]
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = Arc::new(upcasters);
        self
    }

    /// The projection's name.
    pub fn name(&self) -> &str {
        self.projection.name()
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
        self.check()?;
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
            if buffer.len() >= self.config.batch_size || (due && !buffer.is_empty()) {
                self.flush(&buffer).await?;
                buffer.clear();
                deadline = None;
                continue;
            }
            let room = self.config.batch_size - buffer.len();
            let events = self.store.read_all(cursor, room).await?;
            if let Some(last) = events.last().map(|e| e.position) {
                cursor = last;
                deadline.get_or_insert_with(|| Instant::now() + self.config.flush_timeout());
                buffer.extend(events);
                continue;
            }
            let wait = deadline.map_or(self.config.poll_interval(), |d| {
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
        let name = self.projection.name();
        let handled = self.projection.event_types();
        let decoded = plan::decode(&*self.projection, &self.upcasters, &handled, batch);
        let mut letters = self.undecodable(&decoded)?;
        let changes = if decoded.events.is_empty() {
            Vec::new()
        } else {
            let stored = self.load(&decoded.keys()).await?;
            plan::plan(&*self.projection, &decoded, stored)?
        };
        if !changes.is_empty() {
            let reports = self.write(&changes).await?;
            letters.extend(self.report(&reports, &changes, &decoded));
        }
        self.dead_letter(&letters).await?;
        self.store.save_checkpoint(&self.checkpoint, last).await?;
        tracing::debug!(projection = name, events = batch.len(), changes = changes.len(), dead_letters = letters.len(), checkpoint = %last, "Batch committed.");
        Ok(())
    }

    /// The batch's events that did not decode, as dead letters when `errors.tolerance` is
    /// `all`; with `none`, the first one as the error that stops the projection.
    fn undecodable<E>(&self, decoded: &plan::Decoded<'_, E>) -> Result<Vec<DeadLetter>> {
        if let (ErrorTolerance::None, Some(error)) = (
            self.config.errors_tolerance,
            decoded.first_failure(self.name()),
        ) {
            return Err(error);
        }
        Ok(decoded
            .failed
            .iter()
            .map(|(recorded, reason)| {
                tracing::warn!(
                    projection = self.name(),
                    event_type = %recorded.event_type,
                    stream_id = %recorded.stream_id,
                    position = %recorded.position,
                    %reason,
                    "Event does not decode; dead-lettered."
                );
                DeadLetter::new(
                    self.name(),
                    DeadLetterStage::Decode,
                    recorded,
                    reason.clone(),
                )
            })
            .collect())
    }

    /// Puts the letters in the dead-letter destination, retrying while it is down.
    async fn dead_letter(&self, letters: &[DeadLetter]) -> Result<()> {
        let Some(destination) = self.dead_letters.as_ref().filter(|_| !letters.is_empty()) else {
            return Ok(());
        };
        retry::with_retries(self.name(), "dead-letter", &self.config, || {
            destination.put(letters)
        })
        .await
    }

    /// Reads the current documents back from the first sink, retrying while it is down.
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Stored>> {
        let Some(primary) = self.sinks.first() else {
            return Err(no_sink());
        };
        retry::with_retries(self.name(), "load", &self.config, || primary.load(keys)).await
    }

    /// Writes `changes` to every sink until all acknowledged. Sinks that already acknowledged
    /// get the batch again after another one failed, which their version guard makes harmless.
    async fn write(&self, changes: &[Change]) -> Result<Vec<WriteReport>> {
        retry::with_retries(self.name(), "write", &self.config, || async {
            let mut reports = Vec::with_capacity(self.sinks.len());
            for sink in &self.sinks {
                reports.push(sink.write(changes).await?);
            }
            Ok(reports)
        })
        .await
    }

    /// Logs the documents the sinks refused and, with a dead-letter destination, returns them
    /// as dead letters of the events that produced them.
    fn report<E>(
        &self,
        reports: &[WriteReport],
        changes: &[Change],
        decoded: &plan::Decoded<'_, E>,
    ) -> Vec<DeadLetter> {
        let mut letters = Vec::new();
        for (sink, report) in self.sinks.iter().zip(reports) {
            for rejected in &report.rejected {
                tracing::error!(
                    projection = self.name(),
                    sink = sink.name(),
                    key = %rejected.key,
                    reason = %rejected.reason,
                    "Document rejected."
                );
                if self.dead_letters.is_none() {
                    continue;
                }
                let source = changes
                    .iter()
                    .find(|c| c.key == rejected.key)
                    .and_then(|c| decoded.source(&c.key, c.version));
                if let Some(event) = source {
                    let stage = DeadLetterStage::Sink {
                        sink: sink.name().to_owned(),
                        key: rejected.key.clone(),
                    };
                    letters.push(DeadLetter::new(
                        self.name(),
                        stage,
                        event,
                        rejected.reason.clone(),
                    ));
                }
            }
        }
        letters
    }

    /// A runner of the same projection, store and configuration, with its own checkpoint
    /// (`<checkpoint>:<suffix>`) and these sinks: what a rebuild fills the new generation with.
    pub(crate) fn sibling(&self, suffix: &str, sinks: Vec<Arc<dyn Sink>>) -> Self
    where
        S: Clone,
    {
        Self {
            store: self.store.clone(),
            projection: self.projection.clone(),
            sinks,
            config: self.config.clone(),
            upcasters: self.upcasters.clone(),
            checkpoint: format!("{}:{suffix}", self.checkpoint),
            dead_letters: self.dead_letters.clone(),
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
        self.check()?;
        let mut cursor = self.checkpoint().await?;
        let mut total = 0;
        loop {
            let batch = self.store.read_all(cursor, self.config.batch_size).await?;
            let Some(last) = batch.last().map(|e| e.position) else {
                return Ok(total);
            };
            self.flush(&batch).await?;
            total += batch.len();
            cursor = last;
            progress(last);
        }
    }

    fn check(&self) -> Result<()> {
        if self.sinks.is_empty() {
            return Err(no_sink());
        }
        if self.config.errors_tolerance == ErrorTolerance::All && self.dead_letters.is_none() {
            return Err(Error::Config {
                key: "errors.tolerance",
                reason: "`all` needs a dead-letter destination (`with_dead_letters`)".into(),
            });
        }
        Ok(())
    }
}

fn no_sink() -> Error {
    Error::Config {
        key: "sinks",
        reason: "a projection runner needs at least one sink".into(),
    }
}
