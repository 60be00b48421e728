//! The configuration of the outbox relay and of the consumer helper, and the librdkafka client
//! configurations built from them.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How the [`OutboxRelay`](super::OutboxRelay) publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Kafka bootstrap servers, comma separated (`host:port,host:port`).
    pub bootstrap_servers: String,
    /// The topic every event goes to, unless a router is set
    /// ([`OutboxRelay::with_router`](super::OutboxRelay::with_router)).
    pub topic: String,
    /// How many outbox entries one batch reads and publishes (default 500, at least 1).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long `run` waits for new events when the outbox is empty, in ms (default 1000).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// The first wait after a failed batch, in milliseconds; doubled per failure (default 100).
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// The longest wait after failed batches, in milliseconds (default 30000).
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Extra librdkafka producer properties (e.g. `linger.ms`, `compression.type`,
    /// `message.timeout.ms`); `enable.idempotence` and `acks` cannot be weakened.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl RelayConfig {
    /// A configuration publishing to `topic` on `bootstrap_servers`, with the defaults.
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic: topic.into(),
            batch_size: default_batch_size(),
            poll_interval_ms: default_poll_interval_ms(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            properties: BTreeMap::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        require_non_empty("bootstrap_servers", &self.bootstrap_servers)?;
        require_non_empty("topic", &self.topic)?;
        if self.batch_size == 0 {
            return Err(config_error("batch_size", "must be at least 1"));
        }
        Ok(())
    }

    /// The idempotent producer's client configuration.
    pub(crate) fn producer_config(&self) -> Result<ClientConfig> {
        self.validate()?;
        producer_config(&self.bootstrap_servers, &self.properties)
    }

    pub(crate) fn backoff(&self, failures: u32) -> Duration {
        backoff(self.backoff_initial_ms, self.backoff_max_ms, failures)
    }
}

/// How a [`KafkaConsumer`](super::KafkaConsumer) consumes, retries and dead-letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Kafka bootstrap servers, comma separated (`host:port,host:port`).
    pub bootstrap_servers: String,
    /// The consumer group; its committed offsets are where a restarted consumer goes on.
    pub group_id: String,
    /// The topics to subscribe to (at least one).
    pub topics: Vec<String>,
    /// How many times a message is handled before it goes to the dead-letter topic (default 5,
    /// at least 1). A permanent error sends it there at once.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the second attempt, in milliseconds; doubled per attempt (default 100).
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// The longest wait between attempts, in milliseconds (default 30000).
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Appended to a message's topic to name its dead-letter topic (default `.dlq`, not empty).
    #[serde(default = "default_dead_letter_suffix")]
    pub dead_letter_suffix: String,
    /// Which messages are handled one after the other (default [`ProcessingOrder::Key`]: the
    /// messages of one key, in partition order; different keys concurrently).
    #[serde(default)]
    pub processing_order: ProcessingOrder,
    /// How many received messages may be unfinished at once, running or waiting behind an
    /// earlier message of their key (default 64, at least 1; 1 handles one message at a time).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How often handled offsets are committed while running, in milliseconds (default 100);
    /// they are also committed when partitions are revoked and when the consumer stops.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// Extra librdkafka properties, applied to the consumer and to the dead-letter producer
    /// (e.g. `auto.offset.reset`, default `earliest`); `enable.auto.commit` cannot be turned on.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl ConsumerConfig {
    /// The default of [`ConsumerConfig::max_in_flight`].
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

    /// A configuration for group `group_id` reading `topics` on `bootstrap_servers`, with the
    /// defaults.
    pub fn new(
        bootstrap_servers: impl Into<String>,
        group_id: impl Into<String>,
        topics: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            group_id: group_id.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            max_attempts: default_max_attempts(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            dead_letter_suffix: default_dead_letter_suffix(),
            processing_order: ProcessingOrder::default(),
            max_in_flight: default_max_in_flight(),
            commit_interval_ms: default_commit_interval_ms(),
            properties: BTreeMap::new(),
        }
    }

    /// Sets [`ConsumerConfig::processing_order`].
    #[must_use]
    pub fn with_processing_order(mut self, order: ProcessingOrder) -> Self {
        self.processing_order = order;
        self
    }

    /// Sets [`ConsumerConfig::max_in_flight`].
    #[must_use]
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// The dead-letter topic of messages read from `topic`: `<topic><dead_letter_suffix>`.
    pub fn dead_letter_topic(&self, topic: &str) -> String {
        format!("{topic}{}", self.dead_letter_suffix)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        require_non_empty("bootstrap_servers", &self.bootstrap_servers)?;
        require_non_empty("group_id", &self.group_id)?;
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(config_error(
                "topics",
                "must name at least one topic, none empty",
            ));
        }
        if self.max_attempts == 0 {
            return Err(config_error("max_attempts", "must be at least 1"));
        }
        if self.max_in_flight == 0 {
            return Err(config_error("max_in_flight", "must be at least 1"));
        }
        require_non_empty("dead_letter_suffix", &self.dead_letter_suffix)?;
        if self
            .properties
            .get("enable.auto.commit")
            .is_some_and(|v| v != "false")
        {
            return Err(config_error(
                "properties.enable.auto.commit",
                "must be `false` (or absent): offsets are committed only after a message was \
                 handled or dead-lettered",
            ));
        }
        Ok(())
    }

    /// The consumer's client configuration: manual commits, no automatic offset store.
    pub(crate) fn consumer_config(&self) -> Result<ClientConfig> {
        self.validate()?;
        let mut config = ClientConfig::new();
        config.set("auto.offset.reset", "earliest");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        Ok(config)
    }

    /// The dead-letter producer's client configuration (idempotent, `acks=all`). Only the
    /// properties librdkafka accepts for a producer are passed on.
    pub(crate) fn producer_config(&self) -> Result<ClientConfig> {
        self.validate()?;
        let shared: BTreeMap<String, String> = self
            .properties
            .iter()
            .filter(|(key, _)| !is_consumer_only(key))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        producer_config(&self.bootstrap_servers, &shared)
    }

    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        backoff(self.backoff_initial_ms, self.backoff_max_ms, attempt)
    }

    /// Whether the group rebalances incrementally: `partition.assignment.strategy` is
    /// `cooperative-sticky`, or `group.protocol` is `consumer` (KIP-848).
    pub(crate) fn cooperative_rebalancing(&self) -> bool {
        let property = |key: &str| self.properties.get(key).map(|v| v.trim());
        property("partition.assignment.strategy") == Some("cooperative-sticky")
            || property("group.protocol") == Some("consumer")
    }

    pub(crate) fn commit_interval(&self) -> Duration {
        Duration::from_millis(self.commit_interval_ms.max(1))
    }
}

/// Which messages a [`KafkaConsumer`](super::KafkaConsumer) handles one after the other; the
/// others run concurrently, up to [`ConsumerConfig::max_in_flight`]. Whatever the order,
/// offsets are committed only up to the first message not yet finished in each partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingOrder {
    /// Messages with the same key (one entity, one saga) in the same partition are handled in
    /// offset order, one at a time; different keys run concurrently. Messages without a key
    /// share one queue per partition. The default, as in Confluent's parallel consumer.
    #[default]
    Key,
    /// A partition's messages are handled in offset order, one at a time; different
    /// partitions run concurrently (a plain Kafka consumer's order).
    Partition,
    /// Every message may run as soon as it arrives, whatever its key (commits still wait for
    /// the earlier offsets).
    Unordered,
}

/// Properties that a producer rejects or warns about.
fn is_consumer_only(key: &str) -> bool {
    key.starts_with("auto.")
        || key.starts_with("enable.auto.")
        || key.starts_with("fetch.")
        || key.starts_with("group.")
        || key.starts_with("session.")
        || key.starts_with("heartbeat.")
        || key.starts_with("max.poll.")
        || key.starts_with("queued.")
        || matches!(
            key,
            "partition.assignment.strategy"
                | "isolation.level"
                | "check.crcs"
                | "enable.partition.eof"
                | "group.instance.id"
                | "allow.auto.create.topics"
        )
}

fn producer_config(bootstrap: &str, properties: &BTreeMap<String, String>) -> Result<ClientConfig> {
    if properties
        .get("enable.idempotence")
        .is_some_and(|v| v != "true")
    {
        return Err(config_error(
            "properties.enable.idempotence",
            "must be `true` (or absent): retries must not reorder or duplicate within a partition",
        ));
    }
    if properties
        .get("acks")
        .is_some_and(|v| v != "all" && v != "-1")
    {
        return Err(config_error(
            "properties.acks",
            "must be `all` (or absent): an event counts as published only when every \
             in-sync replica has it",
        ));
    }
    let mut config = ClientConfig::new();
    for (key, value) in properties {
        config.set(key, value);
    }
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all");
    Ok(config)
}

/// `initial * 2^(attempt-1)`, capped at `max` (attempt 1 waits `initial`).
pub(crate) fn backoff(initial_ms: u64, max_ms: u64, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(32);
    let ms = initial_ms
        .saturating_mul(1u64 << exponent)
        .min(max_ms.max(initial_ms));
    Duration::from_millis(ms)
}

fn require_non_empty(key: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(config_error(key, "must not be empty"));
    }
    Ok(())
}

fn config_error(key: &str, reason: &str) -> Error {
    Error::Config {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

fn default_batch_size() -> usize {
    500
}
fn default_poll_interval_ms() -> u64 {
    1000
}
fn default_backoff_initial_ms() -> u64 {
    100
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_max_attempts() -> u32 {
    5
}
fn default_dead_letter_suffix() -> String {
    ".dlq".to_owned()
}
fn default_max_in_flight() -> usize {
    ConsumerConfig::DEFAULT_MAX_IN_FLIGHT
}
fn default_commit_interval_ms() -> u64 {
    100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(100, 1000, 1), Duration::from_millis(100));
        assert_eq!(backoff(100, 1000, 2), Duration::from_millis(200));
        assert_eq!(backoff(100, 1000, 4), Duration::from_millis(800));
        assert_eq!(backoff(100, 1000, 5), Duration::from_millis(1000));
        assert_eq!(backoff(100, 1000, 500), Duration::from_millis(1000));
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let config: ConsumerConfig = serde_json::from_str(
            r#"{"bootstrap_servers": "b:9092", "group_id": "g", "topics": ["t"]}"#,
        )
        .unwrap();
        assert_eq!(config, ConsumerConfig::new("b:9092", "g", ["t"]));
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.dead_letter_suffix, ".dlq");
        assert_eq!(config.processing_order, ProcessingOrder::Key);
        assert_eq!(config.max_in_flight, 64);
        let partition: ConsumerConfig = serde_json::from_str(
            r#"{"bootstrap_servers": "b:9092", "group_id": "g", "topics": ["t"],
                "processing_order": "partition", "max_in_flight": 8}"#,
        )
        .unwrap();
        assert_eq!(partition.processing_order, ProcessingOrder::Partition);
        assert_eq!(partition.max_in_flight, 8);
        let relay: RelayConfig =
            serde_json::from_str(r#"{"bootstrap_servers": "b:9092", "topic": "t"}"#).unwrap();
        assert_eq!(relay, RelayConfig::new("b:9092", "t"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<RelayConfig>(
            r#"{"bootstrap_servers": "b", "topic": "t", "batchsize": 3}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("batchsize"), "{err}");
    }

    #[test]
    fn weakening_delivery_guarantees_is_refused() {
        let mut relay = RelayConfig::new("b:9092", "t");
        relay.properties.insert("acks".into(), "1".into());
        assert!(matches!(relay.producer_config(),
                Err(Error::Config { key, .. }) if key == "properties.acks"));
        let mut consumer = ConsumerConfig::new("b:9092", "g", ["t"]);
        consumer
            .properties
            .insert("enable.auto.commit".into(), "true".into());
        assert!(consumer.consumer_config().is_err());
        let mut consumer = ConsumerConfig::new("b:9092", "g", ["t"]);
        consumer.dead_letter_suffix = String::new();
        assert!(consumer.validate().is_err());
        let consumer = ConsumerConfig::new("b:9092", "g", ["t"]).with_max_in_flight(0);
        assert!(matches!(consumer.validate(),
                Err(Error::Config { key, .. }) if key == "max_in_flight"));
    }

    #[test]
    fn cooperative_rebalancing_follows_the_assignment_strategy() {
        let mut config = ConsumerConfig::new("b:9092", "g", ["t"]);
        assert!(!config.cooperative_rebalancing());
        config.properties.insert(
            "partition.assignment.strategy".into(),
            "cooperative-sticky".into(),
        );
        assert!(config.cooperative_rebalancing());
        let mut config = ConsumerConfig::new("b:9092", "g", ["t"]);
        config
            .properties
            .insert("group.protocol".into(), "consumer".into());
        assert!(config.cooperative_rebalancing());
    }

    #[test]
    fn the_dead_letter_producer_gets_no_consumer_properties() {
        let mut consumer = ConsumerConfig::new("b:9092", "g", ["t"]);
        consumer
            .properties
            .insert("auto.offset.reset".into(), "latest".into());
        consumer.properties.insert("client.id".into(), "me".into());
        let producer = consumer.producer_config().unwrap();
        assert_eq!(producer.get("auto.offset.reset"), None);
        assert_eq!(producer.get("client.id"), Some("me"));
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
    }
}
