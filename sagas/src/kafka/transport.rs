//! Producing commands and replies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{COMMAND_ID, KafkaSagaConfig, SAGA_ID, SAGA_TYPE};
use crate::message::{CommandEnvelope, Reply};
use crate::transport::Transport;
use crate::{Error, Result};

/// How long a send may wait for room in the producer's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

fn headers(
    trace: &HashMap<String, String>,
    command_id: &str,
    saga_type: &str,
    saga_id: &str,
) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(5);
    for (key, value) in [
        (COMMAND_ID, command_id),
        (SAGA_TYPE, saga_type),
        (SAGA_ID, saga_id),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    for (key, value) in trace {
        headers = headers.insert(Header {
            key: key.as_str(),
            value: Some(value.as_bytes()),
        });
    }
    headers
}

async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: OwnedHeaders,
) -> Result<()> {
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(headers);
    producer
        .send(record, QUEUE_TIMEOUT)
        .await
        .map(|_| ())
        .map_err(|(error, _)| Error::Kafka(error))
}

/// Sends commands to `<command_topic_prefix><participant>`, keyed by saga id.
#[derive(Clone)]
pub struct KafkaTransport {
    config: KafkaSagaConfig,
    producer: Arc<FutureProducer>,
}

impl std::fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KafkaTransport {
    /// A transport for `config` (connecting happens in the background). Its producer is shared
    /// with the other transports and reply senders of the process on the same brokers.
    pub fn new(config: KafkaSagaConfig) -> Result<Self> {
        let producer = config.producer()?;
        Ok(Self { config, producer })
    }
}

#[async_trait]
impl Transport for KafkaTransport {
    async fn send(&self, command: CommandEnvelope) -> Result<()> {
        let topic = self.config.command_topic(&command.participant);
        let payload = serde_json::to_vec(&command).map_err(|e| Error::Serialize {
            what: "a command".into(),
            source: e,
        })?;
        let headers = headers(
            &command.headers,
            &command.command_id.to_string(),
            &command.saga_type,
            &command.saga_id,
        );
        produce(&self.producer, &topic, &command.saga_id, &payload, headers)
            .await
            .map_err(|e| Error::Transport {
                participant: command.participant.clone(),
                reason: e.to_string(),
            })
    }
}

/// Sends participants' replies to the reply topic, keyed by saga id, with the current span's
/// trace context.
#[derive(Clone)]
pub struct KafkaReplies {
    topic: String,
    producer: Arc<FutureProducer>,
}

impl std::fmt::Debug for KafkaReplies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaReplies")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaReplies {
    /// A reply producer for `config`'s reply topic, sharing the process's producer for these
    /// brokers (see [`KafkaTransport::new`]).
    pub fn new(config: &KafkaSagaConfig) -> Result<Self> {
        Ok(Self {
            topic: config.reply_topic.clone(),
            producer: config.producer()?,
        })
    }

    /// Sends `reply` and waits for the broker's acknowledgement.
    pub async fn send(&self, reply: &Reply) -> Result<()> {
        let payload = serde_json::to_vec(reply).map_err(|e| Error::Serialize {
            what: "a reply".into(),
            source: e,
        })?;
        let headers = headers(
            &keel_core::telemetry::current_headers(),
            &reply.command_id.to_string(),
            &reply.saga_type,
            &reply.saga_id,
        );
        produce(
            &self.producer,
            &self.topic,
            &reply.saga_id,
            &payload,
            headers,
        )
        .await
    }
}
