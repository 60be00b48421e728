//! Handing records to the sink and their offsets to the acknowledgement tracker, in order.

use tokio::sync::{mpsc, watch};

use crate::offsets::Offset;
use crate::sink::{Pending, PendingOffset, Record, Sink};
use crate::{Error, Result};

/// The sink of a run and the channel to its acknowledgement tracker.
pub(super) struct Emitter {
    sink: Sink,
    tx: mpsc::Sender<Pending>,
    /// The offset store, for messages.
    store: String,
}

impl Emitter {
    pub(super) fn new(sink: Sink, tx: mpsc::Sender<Pending>, store: String) -> Self {
        Self { sink, tx, store }
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
        self.tx.send(pending).await.map_err(|_| Error::Offsets {
            store: self.store.clone(),
            reason: "the acknowledgement tracker stopped (a delivery failed)".into(),
        })
    }

    /// Ends the channel to the tracker (it then stores what is acknowledged and returns).
    pub(super) fn into_sink(self) -> Sink {
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
