//! Dead letters on a Kafka topic (feature `kafka`).
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`KafkaDeadLetters`]: build (topic created when missing), put, list |
//! | `config.rs` | [`KafkaDeadLetterConfig`] and the producer's client configuration |
//! | `record.rs` | a letter as a record (key, value, headers) and back; the header names |

mod config;
mod record;

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};

pub use config::KafkaDeadLetterConfig;
pub use record::{
    AT, DEAD_LETTER_ID, DOC_KEY, ERROR, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC,
    POSITION, PROJECTION, SINK, STAGE, VALUE, dead_letter_id,
};

use super::{DeadLetter, DeadLetterStore};
use crate::{Error, Result};

const NAME: &str = "kafka";

/// Dead letters published to a Kafka topic: one record per letter, key = the stream id,
/// value = the payload as stored (a record that was not an event: its original value), the
/// projection, stage, position and reason (and the rest of the letter) in headers
/// ([`PROJECTION`], [`STAGE`], [`POSITION`], [`ERROR`], ...; Kafka Connect's
/// `__connect.errors.*` context headers too).
///
/// [`put`](DeadLetterStore::put) returns once the broker acknowledged every letter
/// (idempotent producer, `acks=all`). A batch handled again after a crash publishes its letters
/// again: the topic is at least once, so each record carries [`DEAD_LETTER_ID`], the letter's
/// identity, and [`list`](DeadLetterStore::list) returns each letter once.
///
/// ```no_run
/// # async fn demo() -> keel_projections::Result<()> {
/// use keel_projections::dead_letter::{KafkaDeadLetterConfig, KafkaDeadLetters};
/// let letters = KafkaDeadLetters::build(KafkaDeadLetterConfig::new("127.0.0.1:9092", "orders-view.dlq")).await?;
/// # Ok(()) }
/// ```
pub struct KafkaDeadLetters {
    config: KafkaDeadLetterConfig,
    producer: FutureProducer,
}

impl std::fmt::Debug for KafkaDeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaDeadLetters")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KafkaDeadLetters {
    /// Checks the configuration, creates the producer and the topic when it is missing (with
    /// `partitions` and `replication_factor`): a destination that cannot work fails here.
    pub async fn build(config: KafkaDeadLetterConfig) -> Result<Self> {
        let producer: FutureProducer = config.producer_config()?.create().map_err(fatal)?;
        ensure_topic(&config).await?;
        Ok(Self { config, producer })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &KafkaDeadLetterConfig {
        &self.config
    }
}

#[async_trait]
impl DeadLetterStore for KafkaDeadLetters {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, letters: &[DeadLetter]) -> Result<()> {
        let records: Vec<record::Record> = letters.iter().map(record::to_record).collect();
        let timeout = Timeout::After(self.config.timeout());
        let sends = records.iter().map(|r| {
            let mut out = FutureRecord::<[u8], [u8]>::to(&self.config.topic)
                .headers(r.headers.clone())
                .timestamp(r.timestamp_ms);
            if let Some(key) = &r.key {
                out = out.key(key.as_slice());
            }
            if let Some(value) = &r.value {
                out = out.payload(value.as_slice());
            }
            self.producer.send(out, timeout)
        });
        for outcome in futures::future::join_all(sends).await {
            outcome.map_err(|(error, _)| delivery_error(&error))?;
        }
        Ok(())
    }

    async fn list(&self, projection: &str) -> Result<Vec<DeadLetter>> {
        let reader = self.config.reader_config()?;
        let (topic, timeout, projection) = (
            self.config.topic.clone(),
            self.config.timeout(),
            projection.to_owned(),
        );
        tokio::task::spawn_blocking(move || read_topic(&reader, &topic, &projection, timeout))
            .await
            .map_err(|e| Error::DeadLetters {
                destination: NAME,
                reason: format!("the reading task failed: {e}"),
                retryable: true,
            })?
    }
}

/// Creates the topic unless it exists.
async fn ensure_topic(config: &KafkaDeadLetterConfig) -> Result<()> {
    let mut client = rdkafka::ClientConfig::new();
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = client
        .set("bootstrap.servers", &config.bootstrap_servers)
        .create()
        .map_err(fatal)?;
    let topic = NewTopic::new(
        &config.topic,
        config.partitions,
        TopicReplication::Fixed(config.replication_factor),
    );
    let options = AdminOptions::new().operation_timeout(Some(config.timeout()));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .map_err(|e| delivery_error(&e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(Error::DeadLetters {
                    destination: NAME,
                    reason: format!("cannot create the dead-letter topic `{topic}`: {code}"),
                    retryable: false,
                });
            }
        }
    }
    Ok(())
}

/// Reads the topic from its start to its end as of now; returns the letters of `projection`,
/// each once, oldest first.
fn read_topic(
    reader: &rdkafka::ClientConfig,
    topic: &str,
    projection: &str,
    timeout: Duration,
) -> Result<Vec<DeadLetter>> {
    let consumer: BaseConsumer = reader.create().map_err(fatal)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| delivery_error(&e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    let mut ends = std::collections::HashMap::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(|e| delivery_error(&e))?;
        if high > low {
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(low))
                .map_err(fatal)?;
            ends.insert(partition, high);
        }
    }
    let several = ends.len() > 1;
    consumer.assign(&assignment).map_err(fatal)?;
    let deadline = std::time::Instant::now() + timeout;
    let mut found: Vec<(i64, i32, i64, DeadLetter)> = Vec::new();
    while !ends.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Error::DeadLetters {
                destination: NAME,
                reason: format!("reading `{topic}` did not reach its end within {timeout:?}"),
                retryable: true,
            });
        }
        let Some(message) = consumer.poll(left.min(Duration::from_millis(200))) else {
            continue;
        };
        let message = message.map_err(|e| delivery_error(&e))?;
        let (partition, offset) = (message.partition(), message.offset());
        if ends.get(&partition).is_some_and(|end| offset + 1 >= *end) {
            ends.remove(&partition);
        }
        if record::projection_of(message.headers()).as_deref() != Some(projection) {
            continue;
        }
        let letter =
            record::from_record(message.headers(), message.payload()).map_err(|reason| {
                Error::DeadLetters {
                    destination: NAME,
                    reason: format!(
                        "record {topic}/{partition}/{offset} does not read back: {reason}"
                    ),
                    retryable: false,
                }
            })?;
        let timestamp = message.timestamp().to_millis().unwrap_or(0);
        found.push((timestamp, partition, offset, letter));
    }
    if several {
        found.sort_by_key(|(timestamp, partition, offset, _)| (*timestamp, *partition, *offset));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(found
        .into_iter()
        .map(|(_, _, _, letter)| letter)
        .filter(|letter| seen.insert(dead_letter_id(letter)))
        .collect())
}

/// A broker or delivery failure: retryable unless the record or the request can never pass.
fn delivery_error(error: &KafkaError) -> Error {
    let permanent = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::InvalidTopic
                | RDKafkaErrorCode::InvalidConfig
        )
    );
    Error::DeadLetters {
        destination: NAME,
        reason: error.to_string(),
        retryable: !permanent,
    }
}

/// A client that cannot be created or configured: retrying does not help.
fn fatal(error: KafkaError) -> Error {
    Error::DeadLetters {
        destination: NAME,
        reason: error.to_string(),
        retryable: false,
    }
}
