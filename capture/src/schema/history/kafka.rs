//! The history in a Kafka topic, as Debezium's `KafkaSchemaHistory` keeps it: one partition,
//! kept forever (`cleanup.policy=delete`, `retention.ms=-1`), one record per statement with a
//! null key, each written and acknowledged (`acks=all`) before the statement's change events.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, TopicPartitionList};
use serde_json::Value as Json;
use tracing::info;

use crate::sink::OffThread;
use crate::{Error, Result};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The history in a topic.
pub struct KafkaHistory {
    topic: String,
    client: ClientConfig,
    producer: OffThread<FutureProducer>,
}

impl std::fmt::Debug for KafkaHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaHistory")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaHistory {
    /// Opens the history topic, creating it (one partition, infinite retention) when missing.
    pub async fn open(
        bootstrap_servers: &str,
        topic: &str,
        client_properties: &[(String, String)],
    ) -> Result<Self> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", bootstrap_servers);
        for (k, v) in client_properties {
            client.set(k, v);
        }
        let admin: OffThread<AdminClient<DefaultClientContext>> = OffThread::new(client.create()?);
        let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
        let new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1))
            .set("cleanup.policy", "delete")
            .set("retention.ms", "-1")
            .set("retention.bytes", "-1");
        for result in admin.create_topics([&new], &opts).await? {
            match result {
                Ok(topic) => info!(%topic, "Created the schema history topic."),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::History {
                        store: format!("Kafka topic {topic}"),
                        reason: format!("cannot create the topic: {code}"),
                    });
                }
            }
        }
        let mut producer = client.clone();
        producer
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0");
        Ok(Self {
            topic: topic.to_owned(),
            producer: OffThread::new(producer.create()?),
            client,
        })
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::History {
            store: format!("Kafka topic {}", self.topic),
            reason: reason.to_string(),
        }
    }

    /// Every record of partition 0, in order.
    pub async fn load(&self) -> Result<Vec<Json>> {
        let mut config = self.client.clone();
        config
            .set(
                "group.id",
                format!("keel-capture-history-{}", uuid::Uuid::new_v4()),
            )
            .set("enable.auto.commit", "false");
        let topic = self.topic.clone();
        let values = tokio::task::spawn_blocking(move || -> Result<Vec<Vec<u8>>> {
            let consumer: OffThread<BaseConsumer> = OffThread::new(config.create()?);
            let (low, high) = consumer.fetch_watermarks(&topic, 0, TIMEOUT)?;
            if high <= low {
                return Ok(Vec::new());
            }
            let mut assignment = TopicPartitionList::new();
            assignment.add_partition_offset(&topic, 0, rdkafka::Offset::Offset(low))?;
            consumer.assign(&assignment)?;
            let deadline = Instant::now() + TIMEOUT;
            let mut out = Vec::new();
            loop {
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
                if let Some(payload) = message.payload() {
                    out.push(payload.to_vec());
                }
                if message.offset() + 1 >= high {
                    return Ok(out);
                }
            }
        })
        .await
        .map_err(|e| self.err(e))??;
        values
            .iter()
            .map(|v| serde_json::from_slice(v).map_err(|e| self.err(e)))
            .collect()
    }

    /// Writes `records` in order and waits until Kafka acknowledged each.
    pub async fn append(&self, records: &[Json]) -> Result<()> {
        for r in records {
            let value = serde_json::to_vec(r).map_err(|e| self.err(e))?;
            let record = FutureRecord::<(), _>::to(&self.topic)
                .partition(0)
                .payload(&value);
            self.producer
                .send(record, TIMEOUT)
                .await
                .map_err(|(error, _)| self.err(format!("write not acknowledged: {error}")))?;
        }
        Ok(())
    }
}
