//! What a handler sees and returns: the consumed record, the handler trait, and its errors.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;

use async_trait::async_trait;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;

use super::super::headers;
use crate::Result;
use crate::event::RecordedEvent;

/// A consumed Kafka record, as handed to a [`MessageHandler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedMessage {
    /// The topic it was read from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The record key, if any.
    pub key: Option<Vec<u8>>,
    /// The record value, if any.
    pub payload: Option<Vec<u8>>,
    /// The headers, values decoded as UTF-8 (lossily; a header without value is `""`).
    pub headers: HashMap<String, String>,
    /// The record timestamp in milliseconds since the epoch, when it has one.
    pub timestamp_ms: Option<i64>,
}

impl ConsumedMessage {
    pub(crate) fn from_owned(message: &OwnedMessage) -> Self {
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: headers::to_map(message.headers()),
            timestamp_ms: message.timestamp().to_millis(),
        }
    }

    /// The key as UTF-8, when it is.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The payload as UTF-8, when it is.
    pub fn payload_str(&self) -> Option<&str> {
        self.payload
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The payload decoded as the [`RecordedEvent`] the outbox relay publishes. A payload that
    /// is missing or does not decode is a [`HandlerError::Permanent`]: retrying cannot fix it.
    pub fn event(&self) -> Result<RecordedEvent, HandlerError> {
        let payload = self.payload.as_deref().ok_or_else(|| {
            HandlerError::permanent(format!(
                "record at {}/{}/{} has no payload",
                self.topic, self.partition, self.offset
            ))
        })?;
        serde_json::from_slice(payload).map_err(|e| {
            HandlerError::permanent(format!(
                "record at {}/{}/{} is not a Keel event: {e}",
                self.topic, self.partition, self.offset
            ))
        })
    }
}

/// Why a handler did not handle a message, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Trying again may succeed (a timeout, a database that is down): the message is retried
    /// with backoff, and dead-lettered once `max_attempts` is reached.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Trying again cannot succeed (malformed payload, unknown type): the message goes to the
    /// dead-letter topic at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl HandlerError {
    /// A retryable error with this reason.
    pub fn retryable(reason: impl fmt::Display) -> Self {
        Self::Retryable(reason.to_string())
    }

    /// A permanent error with this reason.
    pub fn permanent(reason: impl fmt::Display) -> Self {
        Self::Permanent(reason.to_string())
    }

    /// The reason, as written to the dead letter's `keel.error` header.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable(reason) | Self::Permanent(reason) => reason,
        }
    }
}

impl From<crate::Error> for HandlerError {
    /// Retryable when [`Error::is_retryable`](crate::Error::is_retryable) says so, else permanent.
    fn from(error: crate::Error) -> Self {
        if error.is_retryable() {
            Self::retryable(&error)
        } else {
            Self::permanent(&error)
        }
    }
}

/// Handles one consumed message. Implemented for every
/// `Fn(ConsumedMessage) -> impl Future<Output = Result<(), HandlerError>>` (called once per
/// attempt with a copy of the message); implement it directly to borrow the message instead.
#[async_trait]
pub trait MessageHandler: Send + Sync {
    /// Handles `message`. Called again for the same message after a
    /// [`HandlerError::Retryable`], so it should be idempotent (dedupe by event id).
    async fn handle(&self, message: &ConsumedMessage) -> Result<(), HandlerError>;
}

#[async_trait]
impl<F, Fut> MessageHandler for F
where
    F: Fn(ConsumedMessage) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    async fn handle(&self, message: &ConsumedMessage) -> Result<(), HandlerError> {
        self(message.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_retryability() {
        let config = crate::Error::Config {
            key: "k".into(),
            reason: "r".into(),
        };
        assert!(matches!(
            HandlerError::from(config),
            HandlerError::Permanent(_)
        ));
        let kafka = crate::Error::Kafka(rdkafka::error::KafkaError::Canceled);
        assert!(matches!(
            HandlerError::from(kafka),
            HandlerError::Retryable(_)
        ));
    }

    #[test]
    fn a_payload_that_is_no_event_is_permanent() {
        let message = ConsumedMessage {
            topic: "t".into(),
            partition: 0,
            offset: 7,
            key: None,
            payload: Some(b"not json".to_vec()),
            headers: HashMap::new(),
            timestamp_ms: None,
        };
        let error = message.event().unwrap_err();
        assert!(
            matches!(&error, HandlerError::Permanent(r) if r.contains("t/0/7")),
            "{error}"
        );
    }
}
