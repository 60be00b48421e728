//! Handing records to the sink and their offsets to the acknowledgement tracker, in order,
//! in batches: one channel message (and at most one wake-up of the tracker) per [`BATCH`]
//! records, or fewer when the reader is about to wait. A message per record cost a tenth of
//! the reader's time on small transactions (`make bench BENCH=capture`).

use std::sync::{Mutex, PoisonError};

use tokio::sync::{mpsc, watch};

use crate::offsets::Offset;
use crate::sink::{Pending, PendingOffset, Record, Sink};
use crate::{Error, Result};

/// Pending offsets per message to the tracker, at most.
pub(super) const BATCH: usize = 256;

/// The channel's capacity in batches for a window of `records` in flight (one batch at
/// least).
pub(super) fn channel_capacity(records: usize) -> usize {
    (records / BATCH).max(1)
}

/// The sink of a run and the channel to its acknowledgement tracker.
pub(super) struct Emitter {
    sink: Sink,
    tx: mpsc::Sender<Vec<Pending>>,
    /// Pending offsets not yet handed to the tracker.
    batch: Mutex<Vec<Pending>>,
    /// The offset store, for messages.
    store: String,
}

impl Emitter {
    pub(super) fn new(sink: Sink, tx: mpsc::Sender<Vec<Pending>>, store: String) -> Self {
        Self {
            sink,
            tx,
            batch: Mutex::new(Vec::with_capacity(BATCH)),
            store,
        }
    }

    /// Sends `record`, and `offset` to be stored once it (and everything before) is
    /// acknowledged.
    pub(super) async fn emit(
        &self,
        record: &Record,
        offset: impl Into<PendingOffset>,
    ) -> Result<()> {
        let offset = offset.into();
        let delivery = self.sink.send(record, &offset).await?;
        self.pending(Pending { delivery, offset }).await
    }

    /// `offset` to be stored once everything sent before is acknowledged.
    pub(super) async fn mark(&self, offset: Offset) -> Result<()> {
        self.pending(Pending {
            delivery: None,
            offset: offset.into(),
        })
        .await
    }

    async fn pending(&self, pending: Pending) -> Result<()> {
        let full = {
            let mut batch = self.batch();
            batch.push(pending);
            (batch.len() >= BATCH)
                .then(|| std::mem::replace(&mut *batch, Vec::with_capacity(BATCH)))
        };
        match full {
            Some(batch) => self.hand_over(batch).await,
            None => Ok(()),
        }
    }

    /// Hands what is pending to the tracker now: before the reader waits for more input, so
    /// offsets are stored while it is idle.
    pub(super) async fn flush(&self) -> Result<()> {
        let batch = std::mem::take(&mut *self.batch());
        if batch.is_empty() {
            return Ok(());
        }
        self.hand_over(batch).await
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // Only this run's reader uses it; a panic elsewhere leaves nothing half-written.
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn hand_over(&self, batch: Vec<Pending>) -> Result<()> {
        self.tx.send(batch).await.map_err(|_| Error::Offsets {
            store: self.store.clone(),
            reason: "the acknowledgement tracker stopped (a delivery failed)".into(),
        })
    }

    /// Hands over what is pending and ends the channel to the tracker (it then stores what is
    /// acknowledged and returns). Nothing pending is lost when the tracker already stopped:
    /// its error is the run's.
    pub(super) async fn into_sink(self) -> Sink {
        // A stopped tracker returns its own error when awaited.
        let _ = self.flush().await;
        self.sink
    }
}

/// Resolves once `shutdown` asks to stop (true, or its sender gone); never without one.
pub(super) async fn stop_requested(shutdown: &mut Option<watch::Receiver<bool>>) {
    match shutdown {
        Some(rx) => loop {
            if *rx.borrow_and_update() || rx.changed().await.is_err() {
                return;
            }
        },
        None => std::future::pending().await,
    }
}

/// Whether `shutdown` asks to stop now.
pub(super) fn stopping(shutdown: &Option<watch::Receiver<bool>>) -> bool {
    shutdown
        .as_ref()
        .is_some_and(|rx| *rx.borrow() || rx.has_changed().is_err())
}
