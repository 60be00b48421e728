//! Checkpointed subscriptions over the global order: catch up from the stored checkpoint, then
//! follow live appends (woken by the store's notifications, with polling as the fallback).
//!
//! Delivery is at least once: the checkpoint is saved after each handled batch, so after a
//! crash the events of the unfinished batch are delivered again. Handlers that write to the
//! same database as the store can have their writes and the checkpoint committed in one
//! transaction ([`Subscription::run_transactional`]), which makes delivery effectively once.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;

use crate::event::RecordedEvent;
use crate::store::{CheckpointStore, EventStore, Position};
use crate::{Error, Result};

/// The error a handler returns; the subscription stops at the event that failed.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Handles events of a subscription, one at a time, in global order.
#[async_trait]
pub trait EventHandler: Send {
    /// Handles one event. An error stops the subscription before the event's position is
    /// checkpointed.
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError>;
}

/// Handles events inside the transaction that also stores the subscription's checkpoint.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[async_trait]
pub trait TransactionalHandler<DB: sqlx::Database>: Send {
    /// Handles one event, writing through `conn` (the open transaction).
    async fn handle(
        &mut self,
        conn: &mut DB::Connection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError>;
}

/// A store whose checkpoints can be written inside a caller's transaction.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[async_trait]
pub trait TransactionalStore: EventStore + CheckpointStore {
    /// The database.
    type Db: sqlx::Database;
    /// The pool transactions are begun on.
    fn pool(&self) -> &sqlx::Pool<Self::Db>;
    /// Saves a checkpoint through `conn`.
    async fn save_checkpoint_in(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
        name: &str,
        position: Position,
    ) -> Result<()>;
}

#[cfg(feature = "postgres")]
#[async_trait]
impl TransactionalStore for crate::store::PostgresStore {
    type Db = sqlx::Postgres;
    fn pool(&self) -> &sqlx::PgPool {
        crate::store::PostgresStore::pool(self)
    }
    async fn save_checkpoint_in(
        conn: &mut sqlx::PgConnection,
        name: &str,
        position: Position,
    ) -> Result<()> {
        crate::store::PostgresStore::save_checkpoint_in(conn, name, position).await
    }
}

#[cfg(feature = "sqlite")]
#[async_trait]
impl TransactionalStore for crate::store::SqliteStore {
    type Db = sqlx::Sqlite;
    fn pool(&self) -> &sqlx::SqlitePool {
        crate::store::SqliteStore::pool(self)
    }
    async fn save_checkpoint_in(
        conn: &mut sqlx::SqliteConnection,
        name: &str,
        position: Position,
    ) -> Result<()> {
        crate::store::SqliteStore::save_checkpoint_in(conn, name, position).await
    }
}

/// What one batch did: how many events it handled and the position it checkpointed.
struct Handled {
    events: usize,
    last: Position,
}

/// One batch of a subscription after a position, handled and checkpointed: what the follow
/// loop and the catch-up loop repeat, with or without a transaction around each batch.
#[async_trait]
trait Step: Send {
    /// Handles the batch after `after`; `None` when nothing is readable.
    async fn step(&mut self, after: Position) -> Result<Option<Handled>>;
}

/// Runs `steps` from `after` until nothing is readable; returns how many events they handled.
async fn drain(mut after: Position, steps: &mut impl Step) -> Result<usize> {
    let mut handled = 0;
    while let Some(batch) = steps.step(after).await? {
        handled += batch.events;
        after = batch.last;
    }
    Ok(handled)
}

/// Batches handled by an [`EventHandler`], checkpointed after each.
struct Plain<'a, S, H>(&'a Subscription<S>, &'a mut H);

#[async_trait]
impl<S: EventStore + CheckpointStore, H: EventHandler> Step for Plain<'_, S, H> {
    async fn step(&mut self, after: Position) -> Result<Option<Handled>> {
        self.0.step(self.1, after).await
    }
}

/// Batches handled by a [`TransactionalHandler`] in one transaction with their checkpoint.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
struct InTransaction<'a, S, H>(&'a Subscription<S>, &'a mut H);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[async_trait]
impl<S: TransactionalStore, H: TransactionalHandler<S::Db>> Step for InTransaction<'_, S, H> {
    async fn step(&mut self, after: Position) -> Result<Option<Handled>> {
        self.0.step_transactional(self.1, after).await
    }
}

/// A named subscription to a store's global order.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::store::{EventStore, ExpectedVersion, MemoryStore};
/// use keel_core::subscription::{EventHandler, HandlerError, Subscription};
/// use keel_core::RecordedEvent;
///
/// struct Count(usize);
/// #[async_trait::async_trait]
/// impl EventHandler for Count {
///     async fn handle(&mut self, _: &RecordedEvent) -> Result<(), HandlerError> {
///         self.0 += 1;
///         Ok(())
///     }
/// }
///
/// let store = MemoryStore::new();
/// store.append("s", ExpectedVersion::Any, vec![keel_core::doc::new_event()]).await.unwrap();
/// let subscription = Subscription::new(store.clone(), "counter");
/// let mut count = Count(0);
/// assert_eq!(subscription.catch_up(&mut count).await.unwrap(), 1);
/// assert_eq!(subscription.catch_up(&mut count).await.unwrap(), 0, "checkpointed");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Subscription<S> {
    store: S,
    name: String,
    batch_size: usize,
    idle_wait: Duration,
}

impl<S: EventStore + CheckpointStore> Subscription<S> {
    /// A subscription named `name` (its checkpoint's key), reading 500 events per batch and
    /// polling every second when no notification arrives.
    pub fn new(store: S, name: impl Into<String>) -> Self {
        Self {
            store,
            name: name.into(),
            batch_size: 500,
            idle_wait: Duration::from_secs(1),
        }
    }

    /// Events read per batch (at least 1).
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// The longest wait for new events before polling again.
    #[must_use]
    pub fn idle_wait(mut self, wait: Duration) -> Self {
        self.idle_wait = wait;
        self
    }

    /// The subscription's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the subscription stands.
    pub async fn checkpoint(&self) -> Result<Position> {
        Ok(self
            .store
            .load_checkpoint(&self.name)
            .await?
            .unwrap_or(Position::START))
    }

    /// Handles every event after the checkpoint that is readable now, checkpointing after each
    /// batch; returns how many were handled. The checkpoint is read once; between batches the
    /// position is kept in memory.
    pub async fn catch_up(&self, handler: &mut impl EventHandler) -> Result<usize> {
        let after = self.checkpoint().await?;
        drain(after, &mut Plain(self, handler)).await
    }

    /// Catches up, then follows live appends until `shutdown` completes.
    pub async fn run(
        &self,
        handler: &mut impl EventHandler,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        self.follow(shutdown, &mut Plain(self, handler)).await
    }

    /// Handles one batch after `after` and checkpoints it; `None` when nothing is readable.
    async fn step(
        &self,
        handler: &mut impl EventHandler,
        after: Position,
    ) -> Result<Option<Handled>> {
        let batch = self.store.read_all(after, self.batch_size).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(None);
        };
        for event in &batch {
            let span = tracing::info_span!("keel.handle", subscription = %self.name, event_type = %event.event_type, stream_id = %event.stream_id);
            crate::telemetry::set_parent_from_metadata(&span, &event.metadata);
            handler
                .handle(event)
                .instrument(span)
                .await
                .map_err(|e| self.failed(event, e))?;
        }
        self.store.save_checkpoint(&self.name, last).await?;
        Ok(Some(Handled {
            events: batch.len(),
            last,
        }))
    }

    /// The follow loop `run` and `run_transactional` share: from the stored checkpoint, run
    /// `step` while it finds events, and wait for new ones (notification or `idle_wait`) when it
    /// does not, until `shutdown` completes. The position stays in memory between batches.
    async fn follow(
        &self,
        shutdown: impl Future<Output = ()>,
        steps: &mut impl Step,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        let mut after = tokio::select! {
            () = &mut shutdown => return Ok(()),
            at = self.checkpoint() => at?,
        };
        loop {
            let handled = tokio::select! {
                () = &mut shutdown => return Ok(()),
                batch = steps.step(after) => batch?,
            };
            match handled {
                Some(batch) => after = batch.last,
                None => tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = self.store.wait_for_new(after, self.idle_wait) => {}
                },
            }
        }
    }

    fn failed(&self, event: &RecordedEvent, error: HandlerError) -> Error {
        Error::Handler {
            subscription: self.name.clone(),
            event_type: event.event_type.clone(),
            stream_id: event.stream_id.clone(),
            position: event.position,
            reason: error.to_string(),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl<S: TransactionalStore> Subscription<S> {
    /// Like [`catch_up`](Self::catch_up), but each batch's handler writes and the checkpoint
    /// commit in one transaction: either both are stored or neither.
    pub async fn catch_up_transactional(
        &self,
        handler: &mut impl TransactionalHandler<S::Db>,
    ) -> Result<usize> {
        let after = self.checkpoint().await?;
        drain(after, &mut InTransaction(self, handler)).await
    }

    /// Catches up transactionally, then follows live appends until `shutdown` completes.
    pub async fn run_transactional(
        &self,
        handler: &mut impl TransactionalHandler<S::Db>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        self.follow(shutdown, &mut InTransaction(self, handler))
            .await
    }

    /// Handles one batch after `after` in one transaction with its checkpoint; `None` when
    /// nothing is readable.
    async fn step_transactional(
        &self,
        handler: &mut impl TransactionalHandler<S::Db>,
        after: Position,
    ) -> Result<Option<Handled>> {
        let batch = self.store.read_all(after, self.batch_size).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(None);
        };
        let mut tx = self.store.pool().begin().await?;
        for event in &batch {
            handler
                .handle(&mut tx, event)
                .await
                .map_err(|e| self.failed(event, e))?;
        }
        S::save_checkpoint_in(&mut tx, &self.name, last).await?;
        tx.commit().await?;
        Ok(Some(Handled {
            events: batch.len(),
            last,
        }))
    }
}
