//! The consumer helper: a consumer group member that hands each message to a handler, retries
//! retryable failures with backoff, dead-letters what cannot be handled, and commits an offset
//! only once its message was handled or dead-lettered.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::ConsumerConfig;
use super::headers;
use crate::Result;
use crate::event::RecordedEvent;
use crate::telemetry::context_from_headers;

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

/// A consumer group member that runs a [`MessageHandler`] on every message of its topics.
///
/// - **Offsets** are committed only after the handler succeeded or the message's dead letter
///   was acknowledged, never before (`enable.auto.commit=false`): a crash re-delivers the
///   messages after the last commit, so handlers must be idempotent (dedupe by event id).
///   Commits are asynchronous while running and synchronous when `run` ends (or the consumer is
///   dropped). A group without committed offsets starts at the earliest message unless
///   `auto.offset.reset` says otherwise.
/// - **Retries:** a [`HandlerError::Retryable`] is retried after `backoff_initial_ms`, doubling
///   up to `backoff_max_ms`, until `max_attempts` attempts; then, or at once for a
///   [`HandlerError::Permanent`], the original record (same key, payload and headers) goes to
///   `<topic><dead_letter_suffix>` with the headers [`headers::ERROR`](super::headers::ERROR),
///   [`ERROR_ATTEMPTS`](super::headers::ERROR_ATTEMPTS),
///   [`ORIGINAL_TOPIC`](super::headers::ORIGINAL_TOPIC),
///   [`ORIGINAL_PARTITION`](super::headers::ORIGINAL_PARTITION) and
///   [`ORIGINAL_OFFSET`](super::headers::ORIGINAL_OFFSET), and the consumer goes on.
/// - **Order:** messages are handled one at a time, in the order they arrive, so a partition's
///   order (one entity's events) is kept; a message being retried holds back the ones behind
///   it. Keep `max_attempts` × `backoff_max_ms` below `max.poll.interval.ms` (default 300 s) or
///   the broker considers the consumer dead and hands its partitions to another member.
/// - **Tracing:** each message is handled inside a `keel.handle` span whose OpenTelemetry
///   parent is the trace context of its `traceparent`/`tracestate` headers.
///
/// ```no_run
/// # async fn demo() -> keel_core::Result<()> {
/// use keel_core::kafka::{ConsumedMessage, ConsumerConfig, HandlerError, KafkaConsumer};
///
/// let config = ConsumerConfig::new("127.0.0.1:9092", "billing", ["events"]);
/// let handler = |message: ConsumedMessage| async move {
///     let event = message.event()?;
///     tracing::info!(event_id = %event.event_id, "billing saw an event");
///     Ok::<(), HandlerError>(())
/// };
/// KafkaConsumer::new(config)?.run(handler, tokio::signal::ctrl_c()).await
/// # }
/// ```
pub struct KafkaConsumer {
    config: ConsumerConfig,
    consumer: StreamConsumer,
    dead_letters: FutureProducer,
    /// The next offset of each partition handled since the last synchronous commit.
    uncommitted: Mutex<HashMap<(String, i32), i64>>,
}

impl fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How processing one message ended.
enum Processed {
    /// Handled or dead-lettered, and its offset committed.
    Done,
    /// Shutdown came first; the message stays uncommitted and is delivered again.
    Interrupted,
}

impl KafkaConsumer {
    /// A consumer subscribed to `config.topics` as member of `config.group_id`, with its
    /// dead-letter producer (idempotent, `acks=all`). Fails on an invalid configuration;
    /// connecting happens in the background.
    pub fn new(config: ConsumerConfig) -> Result<Self> {
        let consumer: StreamConsumer = config.consumer_config()?.create()?;
        let dead_letters: FutureProducer = config.producer_config()?.create()?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            config,
            consumer,
            dead_letters,
            uncommitted: Mutex::new(HashMap::new()),
        })
    }

    /// Handles messages until `shutdown` completes, then commits what was handled and leaves
    /// the group. Shutdown is honoured between messages and during backoff waits (a handler
    /// call in progress is finished); a message interrupted that way is not committed and is
    /// delivered again.
    ///
    /// Returns an error when a dead letter could not be published: its offset is not
    /// committed, so the message is handled again by the next consumer of the group.
    pub async fn run<H, F>(self, handler: H, shutdown: F) -> Result<()>
    where
        H: MessageHandler,
        F: Future,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut receive_failures = 0u32;
        let outcome = loop {
            let received = tokio::select! {
                biased;
                _ = shutdown.as_mut() => break Ok(()),
                received = self.consumer.recv() => received.map(|m| m.detach()),
            };
            let message = match received {
                Ok(message) => message,
                Err(error) => {
                    receive_failures = receive_failures.saturating_add(1);
                    let wait = self.config.backoff(receive_failures);
                    tracing::warn!(
                        error = %error,
                        retry_in_ms = wait.as_millis() as u64,
                        "receiving from Kafka failed"
                    );
                    tokio::select! {
                        biased;
                        _ = shutdown.as_mut() => break Ok(()),
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            receive_failures = 0;
            match self.process(&handler, &message, shutdown.as_mut()).await {
                Ok(Processed::Done) => {}
                Ok(Processed::Interrupted) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        let committed = self.commit_uncommitted();
        outcome.and(committed)
    }

    /// Handles one message with retries, dead-letters it if need be, and commits its offset.
    async fn process<H: MessageHandler, F: Future>(
        &self,
        handler: &H,
        message: &OwnedMessage,
        mut shutdown: Pin<&mut F>,
    ) -> Result<Processed> {
        let view = ConsumedMessage::from_owned(message);
        let span = tracing::info_span!(
            "keel.handle",
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.destination.name = %view.topic,
            messaging.kafka.partition = view.partition,
            messaging.kafka.offset = view.offset,
            attempts = Empty,
            dead_lettered = Empty,
            otel.status_code = Empty,
        );
        if view.headers.contains_key(headers::TRACEPARENT) {
            let _ = span.set_parent(context_from_headers(&view.headers));
        }
        async {
            let (topic, partition, offset) = (view.topic.as_str(), view.partition, view.offset);
            let max_attempts = self.config.max_attempts;
            let mut attempt = 0u32;
            let failure = loop {
                attempt += 1;
                let error = match handler.handle(&view).await {
                    Ok(()) => break None,
                    Err(error) => error,
                };
                if let HandlerError::Retryable(reason) = &error
                    && attempt < max_attempts
                {
                    let wait = self.config.backoff(attempt);
                    tracing::warn!(
                        topic,
                        partition,
                        offset,
                        attempt,
                        max_attempts,
                        retry_in_ms = wait.as_millis() as u64,
                        error = %reason,
                        "handler failed; retrying"
                    );
                    tokio::select! {
                        biased;
                        _ = shutdown.as_mut() => return Ok(Processed::Interrupted),
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
                tracing::warn!(
                    topic,
                    partition,
                    offset,
                    attempts = attempt,
                    error = %error,
                    "handler gave up; dead-lettering"
                );
                break Some(error);
            };
            Span::current().record("attempts", attempt);
            if let Some(error) = failure {
                Span::current().record("dead_lettered", true);
                Span::current().record("otel.status_code", "ERROR");
                tokio::select! {
                    biased;
                    _ = shutdown.as_mut() => return Ok(Processed::Interrupted),
                    sent = self.dead_letter(message, error.reason(), attempt) => sent?,
                }
            }
            self.commit(topic, partition, offset);
            Ok(Processed::Done)
        }
        .instrument(span.clone())
        .await
    }

    /// Publishes the original record to its dead-letter topic and waits for the ack.
    async fn dead_letter(&self, message: &OwnedMessage, reason: &str, attempts: u32) -> Result<()> {
        let topic = self.config.dead_letter_topic(message.topic());
        let (partition, offset) = (
            message.partition().to_string(),
            message.offset().to_string(),
        );
        let attempts = attempts.to_string();
        let added = [
            (headers::ERROR, reason),
            (headers::ERROR_ATTEMPTS, attempts.as_str()),
            (headers::ORIGINAL_TOPIC, message.topic()),
            (headers::ORIGINAL_PARTITION, partition.as_str()),
            (headers::ORIGINAL_OFFSET, offset.as_str()),
        ];
        let mut out = OwnedHeaders::new();
        // The original headers, minus earlier dead-letter headers (a re-driven dead letter).
        for header in message.headers().into_iter().flat_map(|h| h.iter()) {
            if !added.iter().any(|(key, _)| *key == header.key) {
                out = out.insert(Header {
                    key: header.key,
                    value: header.value,
                });
            }
        }
        for (key, value) in added {
            out = out.insert(headers::text(key, value));
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&topic).headers(out);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        match self.dead_letters.send(record, Timeout::Never).await {
            Ok(delivery) => {
                tracing::info!(
                    dead_letter_topic = %topic,
                    dead_letter_partition = delivery.partition,
                    dead_letter_offset = delivery.offset,
                    "message dead-lettered"
                );
                Ok(())
            }
            Err((error, _)) => {
                tracing::error!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    dead_letter_topic = %topic,
                    error = %error,
                    "dead letter could not be published; stopping without committing"
                );
                Err(error.into())
            }
        }
    }

    /// Commits `offset + 1` of the partition asynchronously and remembers it for the final
    /// synchronous commit.
    fn commit(&self, topic: &str, partition: i32, offset: i64) {
        self.uncommitted()
            .insert((topic.to_owned(), partition), offset + 1);
        let mut list = TopicPartitionList::with_capacity(1);
        let committed = list
            .add_partition_offset(topic, partition, Offset::Offset(offset + 1))
            .and_then(|()| self.consumer.commit(&list, CommitMode::Async));
        if let Err(error) = committed {
            tracing::warn!(
                topic,
                partition,
                offset,
                error = %error,
                "asynchronous commit failed; committing again on shutdown"
            );
        }
    }

    /// Commits, synchronously, what was handled since the last such commit, for the partitions
    /// still assigned (a revoked partition's progress belongs to its new owner).
    fn commit_uncommitted(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.uncommitted());
        if pending.is_empty() {
            return Ok(());
        }
        let assigned = self.consumer.assignment()?;
        let mut list = TopicPartitionList::with_capacity(pending.len());
        for ((topic, partition), next) in &pending {
            if assigned.find_partition(topic, *partition).is_some() {
                list.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
        }
        if list.count() > 0 {
            self.consumer.commit(&list, CommitMode::Sync)?;
        }
        Ok(())
    }

    fn uncommitted(&self) -> MutexGuard<'_, HashMap<(String, i32), i64>> {
        // The map is always whole between statements: a poisoned lock can be used as is.
        self.uncommitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for KafkaConsumer {
    /// A `run` cancelled mid-way still commits what it handled.
    fn drop(&mut self) {
        if let Err(error) = self.commit_uncommitted() {
            tracing::warn!(error = %error, "committing handled offsets on drop failed");
        }
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
