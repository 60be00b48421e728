//! Offsets in a compacted Kafka topic, as Kafka Connect's `KafkaOffsetBackingStore` keeps
//! them: one record per save, keyed `["<connector name>",{"server":"<topic.prefix>"}]`, the
//! newest record of the key wins (ADR 0042).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, TopicPartitionList};
use tracing::info;

use super::Offset;
use crate::sink::OffThread;
use crate::{Error, Result};

/// How long reading the topic back and each write may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A connector's offsets in a compacted topic.
pub struct KafkaOffsetStore {
    topic: String,
    key: Vec<u8>,
    client: ClientConfig,
    producer: OffThread<FutureProducer>,
}

impl std::fmt::Debug for KafkaOffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOffsetStore")
            .field("topic", &self.topic)
            .field("key", &String::from_utf8_lossy(&self.key))
            .finish_non_exhaustive()
    }
}

/// Where a store lives and whose offsets it holds.
#[derive(Debug, Clone)]
pub struct KafkaStoreSpec<'a> {
    /// The brokers.
    pub bootstrap_servers: &'a str,
    /// Client properties that apply to every client (security, SASL, SSL).
    pub client_properties: Vec<(String, String)>,
    /// The topic.
    pub topic: &'a str,
    /// Partitions when it is created.
    pub partitions: i32,
    /// Replication factor when it is created (-1: the broker's default).
    pub replication_factor: i32,
    /// The connector's name.
    pub connector: &'a str,
    /// `topic.prefix` (Debezium's source partition, `{"server": ...}`).
    pub server: &'a str,
}

impl KafkaOffsetStore {
    /// Opens the store: creates the topic (compacted) when it does not exist and refuses one
    /// that is not compacted, as Kafka Connect does.
    pub async fn open(spec: KafkaStoreSpec<'_>) -> Result<Self> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", spec.bootstrap_servers);
        for (k, v) in &spec.client_properties {
            client.set(k, v);
        }
        let err = |reason: String| Error::Offsets {
            store: format!("Kafka topic {}", spec.topic),
            reason,
        };
        let admin: OffThread<AdminClient<DefaultClientContext>> = OffThread::new(client.create()?);
        let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
        let new = NewTopic::new(
            spec.topic,
            spec.partitions,
            TopicReplication::Fixed(spec.replication_factor),
        )
        .set("cleanup.policy", "compact");
        for result in admin.create_topics([&new], &opts).await? {
            match result {
                Ok(topic) => info!(%topic, "Created the compacted offsets topic."),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(err(format!("cannot create topic {topic}: {code}")));
                }
            }
        }
        let configs = admin
            .describe_configs([&ResourceSpecifier::Topic(spec.topic)], &opts)
            .await?;
        for config in configs {
            let resource =
                config.map_err(|code| err(format!("cannot describe the topic: {code}")))?;
            let policy = resource
                .get("cleanup.policy")
                .and_then(|e| e.value.clone())
                .unwrap_or_default();
            if !policy.split(',').any(|p| p.trim() == "compact") {
                return Err(err(format!(
                    "the topic has cleanup.policy={policy}; an offsets topic needs cleanup.policy=compact"
                )));
            }
        }
        let mut producer_config = client.clone();
        producer_config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0");
        let key = serde_json::to_vec(&serde_json::json!([spec.connector, {"server": spec.server}]))
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            topic: spec.topic.to_owned(),
            key,
            client,
            producer: OffThread::new(producer_config.create()?),
        })
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::Offsets {
            store: format!("Kafka topic {}", self.topic),
            reason: reason.to_string(),
        }
    }

    /// The newest offset stored under this connector's key, `None` when there is none (or the
    /// newest is a tombstone, which resets it). Reads every partition up to its end.
    pub async fn load(&self) -> Result<Option<Offset>> {
        let mut consumer_config = self.client.clone();
        consumer_config
            .set(
                "group.id",
                format!("keel-capture-offsets-{}", uuid::Uuid::new_v4()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        let topic = self.topic.clone();
        let key = self.key.clone();
        let latest = tokio::task::spawn_blocking(move || -> Result<Option<Option<Vec<u8>>>> {
            let consumer: OffThread<BaseConsumer> = OffThread::new(consumer_config.create()?);
            let metadata = consumer.fetch_metadata(Some(&topic), TIMEOUT)?;
            let mut ends = Vec::new();
            let mut assignment = TopicPartitionList::new();
            for t in metadata.topics().iter().filter(|t| t.name() == topic) {
                for p in t.partitions() {
                    let (low, high) = consumer.fetch_watermarks(&topic, p.id(), TIMEOUT)?;
                    if high > low {
                        ends.push((p.id(), high));
                        assignment.add_partition_offset(
                            &topic,
                            p.id(),
                            rdkafka::Offset::Offset(low),
                        )?;
                    }
                }
            }
            if ends.is_empty() {
                return Ok(None);
            }
            consumer.assign(&assignment)?;
            let deadline = Instant::now() + TIMEOUT;
            let mut latest = None;
            let mut done = vec![false; ends.len()];
            while done.iter().any(|d| !d) {
                if Instant::now() > deadline {
                    return Err(Error::Kafka(
                        rdkafka::error::KafkaError::MessageConsumption(
                            RDKafkaErrorCode::OperationTimedOut,
                        ),
                    ));
                }
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = message?;
                if message.key() == Some(key.as_slice()) {
                    latest = Some(message.payload().map(<[u8]>::to_vec));
                }
                if let Some(i) = ends.iter().position(|(p, _)| *p == message.partition())
                    && message.offset() + 1 >= ends[i].1
                {
                    done[i] = true;
                }
            }
            Ok(latest)
        })
        .await
        .map_err(|e| self.err(e))??;
        match latest.flatten() {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.err(format!("the stored offset is not readable: {e}"))),
            None => Ok(None),
        }
    }

    /// Writes `offset` and waits until Kafka acknowledged it (`acks=all`).
    pub async fn save(&self, offset: &Offset) -> Result<()> {
        let value = serde_json::to_vec(offset).map_err(|e| self.err(e))?;
        let record = FutureRecord::to(&self.topic).key(&self.key).payload(&value);
        self.producer
            .send(record, TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(error, _)| self.err(format!("write not acknowledged: {error}")))
    }
}
