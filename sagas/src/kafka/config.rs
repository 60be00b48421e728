//! Where commands and replies travel on Kafka.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

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
    /// How many messages each command or reply consumer handles at once (default 64): messages
    /// of one saga (the record key) one after the other, different sagas concurrently (see
    /// keel-core's `ConsumerConfig::max_in_flight`).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
}

fn default_max_in_flight() -> usize {
    keel_core::kafka::ConsumerConfig::DEFAULT_MAX_IN_FLIGHT
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
            max_in_flight: default_max_in_flight(),
        }
    }

    /// Sets [`KafkaSagaConfig::max_in_flight`].
    #[must_use]
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
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
        config.max_in_flight = self.max_in_flight;
        config
    }

    /// The command topic of `participant`.
    pub fn command_topic(&self, participant: &str) -> String {
        format!("{}{participant}", self.command_topic_prefix)
    }

    /// An idempotent producer that waits for every in-sync replica (`acks=all`) and lingers
    /// 1 ms (`linger.ms`, librdkafka's default is 5), shared by
    /// every transport and reply sender of this process on the same brokers while one of them
    /// lives: a librdkafka producer is thread-safe, batches what many tasks send, and each one
    /// costs threads, connections and an idle polling loop.
    pub(crate) fn producer(&self) -> Result<Arc<FutureProducer>> {
        static SHARED: OnceLock<Mutex<HashMap<String, Weak<FutureProducer>>>> = OnceLock::new();
        let mut shared = SHARED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shared.retain(|_, producer| producer.strong_count() > 0);
        if let Some(producer) = shared.get(&self.bootstrap_servers).and_then(Weak::upgrade) {
            return Ok(producer);
        }
        let producer: Arc<FutureProducer> = Arc::new(
            ClientConfig::new()
                .set("bootstrap.servers", &self.bootstrap_servers)
                .set("enable.idempotence", "true")
                .set("acks", "all")
                // A saga waits for each command and reply in turn: librdkafka's default 5 ms
                // of lingering would be paid on every hop. Under load, batches still form.
                .set("linger.ms", "1")
                .create()?,
        );
        shared.insert(self.bootstrap_servers.clone(), Arc::downgrade(&producer));
        Ok(producer)
    }
}
