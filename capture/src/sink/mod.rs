//! The Kafka sink: an idempotent producer, and the acknowledgement tracker that advances the
//! stored offset only after every record up to it was acknowledged.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tokio::sync::mpsc;
use tracing::{debug, error};

use crate::config::ConnectorConfig;
use crate::offsets::{FileOffsetStore, Offset};
use crate::transforms::Header;
use crate::{Error, Result};

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

/// The producer, or none at all: the null sink ([`KafkaSink::null`]) drops every record,
/// for measuring the reader, decoding and mapping without Kafka.
pub struct KafkaSink {
    producer: Option<FutureProducer>,
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
        Ok(Self {
            producer: Some(cc.create()?),
        })
    }

    /// A sink that drops every record (nothing is delivered, nothing acknowledged).
    pub fn null() -> Self {
        Self { producer: None }
    }

    /// Hands `record` to the producer, waiting while its queue is full; `None` from the null
    /// sink.
    pub async fn send(&self, record: &Record) -> Result<Option<DeliveryFuture>> {
        let Some(producer) = &self.producer else {
            return Ok(None);
        };
        loop {
            let mut fr: FutureRecord<'_, Vec<u8>, Vec<u8>> = FutureRecord::to(&record.topic);
            if let Some(k) = &record.key {
                fr = fr.key(k);
            }
            if let Some(v) = &record.value {
                fr = fr.payload(v);
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
                fr = fr.headers(headers);
            }
            match producer.send_result(fr) {
                Ok(delivery) => return Ok(Some(delivery)),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Waits until everything sent was delivered or failed.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        match &self.producer {
            Some(producer) => producer.flush(timeout).map_err(Error::from),
            None => Ok(()),
        }
    }
}

/// A record in flight (or, with `delivery: None`, a position with nothing to deliver), and the
/// offset that is safe to store once it and everything before it are acknowledged.
pub struct Pending {
    /// The record's delivery, if any.
    pub delivery: Option<DeliveryFuture>,
    /// The offset after it.
    pub offset: Offset,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("delivery", &self.delivery.is_some())
            .field("offset", &self.offset)
            .finish()
    }
}

/// What the tracker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Records acknowledged.
    pub acknowledged: u64,
    /// The last offset stored.
    pub stored: Option<Offset>,
}

/// Awaits deliveries in order and stores the offset of the acknowledged prefix every
/// `flush_every` (also while nothing new arrives) and when the channel closes. The first failed delivery stops it: its offset
/// and everything after are not stored, so a restart delivers them again.
pub async fn track_acks(
    mut rx: mpsc::Receiver<Pending>,
    store: FileOffsetStore,
    flush_every: Duration,
) -> Result<AckSummary> {
    let mut summary = AckSummary::default();
    let mut latest: Option<Offset> = None;
    let mut last_flush = tokio::time::Instant::now();
    let store_latest = |latest: &Option<Offset>, summary: &mut AckSummary| -> Result<()> {
        if let Some(o) = latest
            && summary.stored.as_ref() != Some(o)
        {
            store.save(o)?;
            debug!(file = %o.file, pos = o.pos, skip = o.skip, "Offset stored.");
            summary.stored = Some(o.clone());
        }
        Ok(())
    };
    loop {
        let next = tokio::select! {
            p = rx.recv() => p,
            () = tokio::time::sleep_until(last_flush + flush_every) => {
                store_latest(&latest, &mut summary)?;
                last_flush = tokio::time::Instant::now();
                continue;
            }
        };
        let Some(p) = next else { break };
        if let Some(delivery) = p.delivery {
            match delivery.await {
                Ok(Ok(_)) => summary.acknowledged += 1,
                Ok(Err((error, _))) => {
                    error!(%error, file = %p.offset.file, pos = p.offset.pos, "Kafka delivery failed.");
                    store_latest(&latest, &mut summary)?;
                    return Err(error.into());
                }
                Err(_) => {
                    store_latest(&latest, &mut summary)?;
                    return Err(Error::Kafka(KafkaError::Canceled));
                }
            }
        }
        latest = Some(p.offset);
        if last_flush.elapsed() >= flush_every {
            store_latest(&latest, &mut summary)?;
            last_flush = tokio::time::Instant::now();
        }
    }
    store_latest(&latest, &mut summary)?;
    Ok(summary)
}
