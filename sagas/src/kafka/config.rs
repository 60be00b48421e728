//! Where commands and replies travel on Kafka.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::producer::FutureProducer;
use serde::Deserialize;

use crate::Result;

/// The topics of a saga deployment on Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSagaConfig {
    /// Kafka bootstrap servers, comma separated (`host:port,host:port`).
    pub bootstrap_servers: String,
    /// Participant `p` reads its commands from `<command_topic_prefix><p>`.
    pub command_topic_prefix: String,
    /// The topic participants reply on and the coordinator reads.
    pub reply_topic: String,
    /// Extra librdkafka properties of the command and reply consumers, e.g. a shorter
    /// `session.timeout.ms`: a killed coordinator holds the reply partitions until its session
    /// times out, so keep step timeouts well above it.
    #[serde(default)]
    pub consumer_properties: BTreeMap<String, String>,
}

impl KafkaSagaConfig {
    /// A configuration with these brokers and topics.
    pub fn new(
        bootstrap_servers: impl Into<String>,
        command_topic_prefix: impl Into<String>,
        reply_topic: impl Into<String>,
    ) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            command_topic_prefix: command_topic_prefix.into(),
            reply_topic: reply_topic.into(),
            consumer_properties: BTreeMap::new(),
        }
    }

    /// Adds a consumer property (see [`KafkaSagaConfig::consumer_properties`]).
    #[must_use]
    pub fn with_consumer_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.consumer_properties.insert(key.into(), value.into());
        self
    }

    /// The consumer helper's configuration for `topic` in consumer group `group`.
    pub(crate) fn consumer(&self, group: &str, topic: String) -> keel_core::kafka::ConsumerConfig {
        let mut config =
            keel_core::kafka::ConsumerConfig::new(&self.bootstrap_servers, group, [topic]);
        config.properties = self.consumer_properties.clone();
        config
    }

    /// The command topic of `participant`.
    pub fn command_topic(&self, participant: &str) -> String {
        format!("{}{participant}", self.command_topic_prefix)
    }

    /// An idempotent producer that waits for every in-sync replica (`acks=all`).
    pub(crate) fn producer(&self) -> Result<FutureProducer> {
        Ok(ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?)
    }
}
