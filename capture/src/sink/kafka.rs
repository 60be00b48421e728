//! The Kafka producer: idempotent, `acks=all`, partitioning keys as Kafka's Java client does.
//! Each record carries its sequence number as the delivery report's opaque value; the report
//! marks it on the [`AckBoard`] the tracker reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::Record;
use super::acks::AckBoard;
use super::off_thread::OffThread;
use crate::config::ConnectorConfig;
use crate::{Error, Result};

/// Delivery reports to the board.
struct Reports {
    board: Arc<AckBoard>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        match result {
            Ok(_) => self.board.acknowledge(seq as u64),
            Err((error, _)) => self.board.fail(seq as u64, error.clone()),
        }
    }
}

/// The producer.
pub struct KafkaSink {
    producer: OffThread<ThreadedProducer<Reports>>,
    board: Arc<AckBoard>,
    next: AtomicU64,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// An idempotent producer (`acks=all`) partitioning keys as Kafka's Java client does.
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let mut cc = ClientConfig::new();
        cc.set("linger.ms", "5")
            .set("partitioner", "murmur2_random");
        for (k, v) in &config.producer_properties {
            cc.set(k, v);
        }
        for (key, needed) in [("enable.idempotence", "true"), ("acks", "all")] {
            if let Some(v) = config.producer_properties.get(key)
                && v != needed
                && !(key == "acks" && v == "-1")
            {
                return Err(Error::config(
                    &format!("kafka.producer.{key}"),
                    v.clone(),
                    needed,
                ));
            }
        }
        cc.set("bootstrap.servers", &config.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        // Records between their send and the tracker: the window, the batch being filled and
        // the one the tracker reads.
        let board = Arc::new(AckBoard::new(
            super::in_flight_limit(config.max_queue_size) + 1024,
        ));
        Ok(Self {
            producer: OffThread::new(cc.create_with_context(Reports {
                board: board.clone(),
            })?),
            board,
            next: AtomicU64::new(0),
        })
    }

    /// The board the delivery reports mark.
    pub fn board(&self) -> Arc<AckBoard> {
        self.board.clone()
    }

    /// Hands `record` to the producer, waiting while its queue is full; its sequence number
    /// (what [`AckBoard::wait`] takes).
    pub async fn send(&self, record: &Record) -> Result<u64> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        loop {
            let mut br: BaseRecord<'_, Vec<u8>, Vec<u8>, usize> =
                BaseRecord::with_opaque_to(&record.topic, seq as usize);
            if let Some(k) = &record.key {
                br = br.key(k);
            }
            if let Some(v) = &record.value {
                br = br.payload(v);
            }
            if !record.headers.is_empty() {
                let headers = record.headers.iter().fold(
                    OwnedHeaders::new_with_capacity(record.headers.len()),
                    |hs, h| {
                        hs.insert(KafkaHeader {
                            key: &h.key,
                            value: h.value.as_ref(),
                        })
                    },
                );
                br = br.headers(headers);
            }
            match self.producer.send(br) {
                Ok(()) => return Ok(seq),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Waits until everything sent was delivered or failed.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout).map_err(Error::from)
    }
}
