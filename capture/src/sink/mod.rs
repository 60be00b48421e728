//! Where records go: the Kafka producer, the in-process consumer of a
//! [`ChangeStream`](crate::ChangeStream), or nowhere (the null sink); and the acknowledgement
//! tracker that advances the stored offset only after every record up to it was acknowledged.

mod acks;
mod consumer;
mod kafka;
mod off_thread;
mod tracker;

pub use acks::AckBoard;
pub(crate) use consumer::ConsumerSink;
pub use kafka::KafkaSink;
pub(crate) use off_thread::OffThread;
pub use tracker::{AckSummary, track_acks};

use crate::Result;
use std::sync::Arc;

use crate::offsets::Offset;
use crate::transforms::Header;

/// Records sent and not yet acknowledged, at most: `max.queue.size`, or 32,768 when that is
/// less. Kafka Connect bounds these by its producer's `buffer.memory` (32 MiB), not by
/// Debezium's queue; a window of 8,192 small records stalled the reader on Kafka's
/// acknowledgements (ADR 0047).
pub(crate) fn in_flight_limit(max_queue_size: usize) -> usize {
    max_queue_size.max(32_768)
}

/// One Kafka record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The topic.
    pub topic: String,
    /// The key (JSON), `None` for a table without a primary key.
    pub key: Option<Vec<u8>>,
    /// The value (JSON), `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers (set by transforms, and on dead letters).
    pub headers: Vec<Header>,
}

/// How a record's acknowledgement arrives.
#[non_exhaustive]
pub enum Delivery {
    /// Kafka's delivery report for this sequence number, on the sink's [`AckBoard`].
    Kafka(u64),
    /// The in-process consumer acknowledging this sequence number (and all before it).
    Consumer(u64),
}

/// The offset after a record: whole, or (within a transaction) the transaction's offset shared
/// by all its records with this record's count, turned into an [`Offset`] only when stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingOffset {
    /// A whole offset.
    Whole(Offset),
    /// The group's offset (its `skip` is ignored) and the records of it sent so far.
    InGroup(Arc<Offset>, u64),
}

impl PendingOffset {
    /// The offset to store.
    pub fn to_offset(&self) -> Offset {
        match self {
            Self::Whole(o) => o.clone(),
            Self::InGroup(o, skip) => Offset {
                skip: *skip,
                ..(**o).clone()
            },
        }
    }

    /// The binlog file and position, for messages.
    pub fn at(&self) -> (&str, u64) {
        match self {
            Self::Whole(o) => (&o.file, o.pos),
            Self::InGroup(o, _) => (&o.file, o.pos),
        }
    }
}

impl From<Offset> for PendingOffset {
    fn from(o: Offset) -> Self {
        Self::Whole(o)
    }
}

/// A record in flight (or, with `delivery: None`, a position with nothing to deliver), and the
/// offset that is safe to store once it and everything before it are acknowledged.
pub struct Pending {
    /// The record's delivery, if any.
    pub delivery: Option<Delivery>,
    /// The offset after it.
    pub offset: PendingOffset,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("delivery", &self.delivery.is_some())
            .field("offset", &self.offset)
            .finish()
    }
}

/// The sink of a run.
pub(crate) enum Sink {
    /// Kafka.
    Kafka(KafkaSink),
    /// A [`ChangeStream`](crate::ChangeStream)'s consumer.
    Consumer(ConsumerSink),
    /// Nothing: every record is dropped as delivered (for measuring the reader).
    Null,
}

impl Sink {
    /// Hands `record` (whose offset is `offset`) on; `None` from the null sink.
    pub(crate) async fn send(
        &self,
        record: &Record,
        offset: &PendingOffset,
    ) -> Result<Option<Delivery>> {
        match self {
            Self::Kafka(k) => Ok(Some(Delivery::Kafka(k.send(record).await?))),
            Self::Consumer(c) => Ok(Some(c.send(record, offset).await?)),
            Self::Null => Ok(None),
        }
    }

    /// Waits until everything sent to Kafka was delivered or failed.
    pub(crate) fn flush(&self, timeout: std::time::Duration) -> Result<()> {
        match self {
            Self::Kafka(k) => k.flush(timeout),
            Self::Consumer(_) | Self::Null => Ok(()),
        }
    }
}
