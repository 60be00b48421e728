//! Where the Kafka dead-letter destination publishes, and its producer's client configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::Deserialize;

use crate::{Error, Result};

/// The dead-letter topic and how it is written.
///
/// ```
/// let config: keel_projections::dead_letter::KafkaDeadLetterConfig = serde_json::from_str(
///     r#"{ "bootstrap_servers": "127.0.0.1:9092", "topic": "orders-view.dlq" }"#,
/// )?;
/// assert_eq!(config.partitions, 1);
/// assert_eq!(config.replication_factor, -1);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaDeadLetterConfig {
    /// Kafka bootstrap servers, comma separated (`host:port,host:port`).
    pub bootstrap_servers: String,
    /// The dead-letter topic (Kafka Connect's `errors.deadletterqueue.topic.name`); created
    /// when missing.
    pub topic: String,
    /// Partitions of the topic when it is created (default 1, as Kafka Connect creates its
    /// dead-letter queues); `-1` takes the broker's `num.partitions`.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of the topic when it is created (default `-1`: the broker's
    /// `default.replication.factor`).
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// Longest wait, in milliseconds, for the broker to acknowledge letters or to answer an
    /// admin or metadata request (default 30000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra librdkafka producer properties (e.g. `compression.type`, `client.id`);
    /// `enable.idempotence` and `acks` cannot be weakened.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaDeadLetterConfig {
    /// Letters to `topic` on `bootstrap_servers`, with the defaults.
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic: topic.into(),
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            timeout_ms: default_timeout_ms(),
            properties: BTreeMap::new(),
        }
    }

    /// `timeout_ms` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks the values that have limits.
    pub fn validate(&self) -> Result<()> {
        let invalid = |key: &'static str, reason: &str| {
            Err(Error::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.bootstrap_servers.trim().is_empty() {
            return invalid("bootstrap_servers", "must not be empty");
        }
        if self.topic.trim().is_empty() {
            return invalid("topic", "must not be empty");
        }
        if self.partitions == 0 || self.partitions < -1 {
            return invalid(
                "partitions",
                "must be at least 1, or -1 for the broker's default",
            );
        }
        if self.replication_factor == 0 || self.replication_factor < -1 {
            return invalid(
                "replication_factor",
                "must be at least 1, or -1 for the broker's default",
            );
        }
        if self.timeout_ms == 0 {
            return invalid("timeout_ms", "must be at least 1");
        }
        if self
            .properties
            .get("enable.idempotence")
            .is_some_and(|v| v != "true")
        {
            return invalid(
                "properties.enable.idempotence",
                "must be `true` (or absent): a retried send must not reorder or duplicate letters",
            );
        }
        if self
            .properties
            .get("acks")
            .is_some_and(|v| v != "all" && v != "-1")
        {
            return invalid(
                "properties.acks",
                "must be `all` (or absent): a letter counts as kept only when every in-sync \
                 replica has it",
            );
        }
        Ok(())
    }

    /// The idempotent producer's client configuration (`acks=all`).
    pub(crate) fn producer_config(&self) -> Result<ClientConfig> {
        self.validate()?;
        let mut config = self.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", self.timeout_ms.to_string());
        Ok(config)
    }

    /// The client configuration `list` reads the topic with: the servers and the properties a
    /// consumer accepts, no group, no commits.
    pub(crate) fn reader_config(&self) -> Result<ClientConfig> {
        self.validate()?;
        let mut config = ClientConfig::new();
        for (key, value) in self.properties.iter().filter(|(k, _)| shared(k)) {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set(
                "group.id",
                format!("keel-dead-letters-reader-{}", uuid::Uuid::new_v4()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest");
        Ok(config)
    }

    /// The servers and the extra properties.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config.set("bootstrap.servers", &self.bootstrap_servers);
        config
    }
}

/// Properties a consumer shares with the producer (security and client settings).
fn shared(key: &str) -> bool {
    key.starts_with("security.")
        || key.starts_with("ssl.")
        || key.starts_with("sasl.")
        || key == "client.id"
        || key == "client.rack"
}

fn default_partitions() -> i32 {
    1
}
fn default_replication_factor() -> i32 {
    -1
}
fn default_timeout_ms() -> u64 {
    30_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakened_delivery_and_empty_names_are_refused() {
        assert!(KafkaDeadLetterConfig::new("b:9092", "t").validate().is_ok());
        let mut config = KafkaDeadLetterConfig::new("b:9092", "t");
        config.properties.insert("acks".into(), "1".into());
        assert!(matches!(
            config.producer_config(),
            Err(Error::Config {
                key: "properties.acks",
                ..
            })
        ));
        let mut config = KafkaDeadLetterConfig::new("b:9092", "t");
        config
            .properties
            .insert("enable.idempotence".into(), "false".into());
        assert!(config.validate().is_err());
        assert!(
            KafkaDeadLetterConfig::new("b:9092", " ")
                .validate()
                .is_err()
        );
        let zero = KafkaDeadLetterConfig {
            partitions: 0,
            ..KafkaDeadLetterConfig::new("b:9092", "t")
        };
        assert!(matches!(
            zero.validate(),
            Err(Error::Config {
                key: "partitions",
                ..
            })
        ));
    }

    #[test]
    fn unknown_keys_are_refused_and_the_producer_is_idempotent() {
        let err = serde_json::from_str::<KafkaDeadLetterConfig>(
            r#"{"bootstrap_servers": "b", "topic": "t", "partition": 3}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("partition"), "{err}");
        let producer = KafkaDeadLetterConfig::new("b:9092", "t")
            .producer_config()
            .unwrap();
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
    }
}
