//! The in-process sink of a [`ChangeStream`](crate::ChangeStream): each record becomes a
//! [`ChangeEvent`] on a bounded channel, acknowledged by the consumer.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::{Delivery, PendingOffset, Record};
use crate::change_stream::ChangeEvent;
use crate::{Error, Result};

/// Hands records to a [`ChangeStream`](crate::ChangeStream), numbering them from 1.
pub(crate) struct ConsumerSink {
    events: mpsc::Sender<Result<ChangeEvent>>,
    seq: AtomicU64,
}

impl ConsumerSink {
    /// A sink writing to `events`.
    pub(crate) fn new(events: mpsc::Sender<Result<ChangeEvent>>) -> Self {
        Self {
            events,
            seq: AtomicU64::new(0),
        }
    }

    /// Hands `record` to the consumer, waiting while the channel is full; [`Error::Closed`]
    /// once the stream is closed.
    pub(crate) async fn send(&self, record: &Record, offset: &PendingOffset) -> Result<Delivery> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = ChangeEvent::from_record(record, offset.to_offset(), seq)?;
        self.events
            .send(Ok(event))
            .await
            .map_err(|_| Error::Closed)?;
        Ok(Delivery::Consumer(seq))
    }

    /// Hands the run's error to the consumer as the stream's last item; the error back when
    /// the stream is closed already.
    pub(crate) async fn fail(&self, error: Error) -> Result<()> {
        match self.events.send(Err(error)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(Err(error))) => Err(error),
            Err(mpsc::error::SendError(Ok(_))) => Err(Error::Closed),
        }
    }
}
