//! Kafka records as the runner sees them: events, origins, the offsets to commit, and the
//! consumer's client configuration.

use std::collections::BTreeMap;

use keel_core::kafka::ConsumerConfig;
use keel_core::{Position, RecordedEvent};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;
use uuid::Uuid;

use crate::dead_letter::{DeadLetter, DeadLetterStage};
use crate::{Error, Result};

/// `<topic>/<partition>/<offset>`: where a record was.
pub(crate) fn origin(message: &OwnedMessage) -> String {
    format!(
        "{}/{}/{}",
        message.topic(),
        message.partition(),
        message.offset()
    )
}

/// The record's value as the `RecordedEvent` the outbox relay publishes.
pub(crate) fn event(message: &OwnedMessage) -> std::result::Result<RecordedEvent, String> {
    let payload = message
        .payload()
        .ok_or_else(|| "the record has no value".to_owned())?;
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

/// A dead letter for a record that is not an event: empty event fields, the value as text.
pub(crate) fn not_an_event(projection: &str, message: &OwnedMessage, reason: &str) -> DeadLetter {
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    DeadLetter {
        projection: projection.to_owned(),
        stage: DeadLetterStage::Source {
            origin: origin(message),
        },
        event_id: Uuid::nil(),
        event_type: String::new(),
        schema_version: 0,
        stream_id: text(message.key()).unwrap_or_default(),
        stream_version: 0,
        position: Position::START,
        payload: text(message.payload()).map_or(Value::Null, Value::String),
        reason: reason.to_owned(),
        at: chrono::Utc::now(),
    }
}

/// The offsets to commit after `batch`: per partition, the one after its last record.
pub(crate) fn next_offsets(batch: &[OwnedMessage]) -> Result<TopicPartitionList> {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for message in batch {
        let slot = next
            .entry((message.topic(), message.partition()))
            .or_insert(0);
        *slot = (*slot).max(message.offset() + 1);
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(kafka_error)?;
    }
    Ok(list)
}

/// The consumer's client configuration: like keel-core's consumer helper, manual commits only.
pub(crate) fn client_config(source: &ConsumerConfig) -> Result<ClientConfig> {
    let empty = |key: &'static str, value: &str| {
        if value.trim().is_empty() {
            return Err(Error::Config {
                key,
                reason: "must not be empty".into(),
            });
        }
        Ok(())
    };
    empty("bootstrap_servers", &source.bootstrap_servers)?;
    empty("group_id", &source.group_id)?;
    if source.topics.is_empty() || source.topics.iter().any(|t| t.trim().is_empty()) {
        return Err(Error::Config {
            key: "topics",
            reason: "must name at least one topic, none empty".into(),
        });
    }
    if source
        .properties
        .get("enable.auto.commit")
        .is_some_and(|v| v != "false")
    {
        return Err(Error::Config {
            key: "properties.enable.auto.commit",
            reason: "must be `false` (or absent): offsets are committed only after the sinks \
                     acknowledged"
                .into(),
        });
    }
    let mut config = ClientConfig::new();
    config.set("auto.offset.reset", "earliest");
    for (key, value) in &source.properties {
        config.set(key, value);
    }
    config
        .set("bootstrap.servers", &source.bootstrap_servers)
        .set("group.id", &source.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    Ok(config)
}

pub(crate) fn kafka_error(error: rdkafka::error::KafkaError) -> Error {
    Error::Kafka {
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;
    use rdkafka::message::OwnedMessage;

    use super::*;

    fn record(topic: &str, partition: i32, offset: i64, value: &str) -> OwnedMessage {
        OwnedMessage::new(
            Some(value.as_bytes().to_vec()),
            Some(b"order-1".to_vec()),
            topic.to_owned(),
            Timestamp::NotAvailable,
            partition,
            offset,
            None,
        )
    }

    #[test]
    fn offsets_to_commit_follow_the_last_record_of_each_partition() {
        let batch = [
            record("t", 0, 4, "{}"),
            record("t", 1, 9, "{}"),
            record("t", 0, 5, "{}"),
        ];
        let list = next_offsets(&batch).unwrap();
        let offsets: Vec<(i32, Offset)> = list
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset()))
            .collect();
        assert_eq!(
            offsets,
            vec![(0, Offset::Offset(6)), (1, Offset::Offset(10))]
        );
    }

    #[test]
    fn a_record_that_is_not_an_event_becomes_a_source_letter() {
        let message = record("events", 2, 41, "not json");
        let reason = event(&message).unwrap_err();
        let letter = not_an_event("orders", &message, &reason);
        assert_eq!(
            letter.stage,
            DeadLetterStage::Source {
                origin: "events/2/41".into()
            }
        );
        assert_eq!(letter.payload, Value::String("not json".into()));
        assert_eq!(letter.stream_id, "order-1");
    }

    #[test]
    fn auto_commit_and_empty_settings_are_refused() {
        let mut source = ConsumerConfig::new("b:9092", "g", ["t"]);
        assert!(client_config(&source).is_ok());
        source
            .properties
            .insert("enable.auto.commit".into(), "true".into());
        assert!(matches!(
            client_config(&source),
            Err(Error::Config {
                key: "properties.enable.auto.commit",
                ..
            })
        ));
        assert!(client_config(&ConsumerConfig::new("b:9092", "", ["t"])).is_err());
    }
}
