//! Handling one message: the handler with retries and backoff, the dead letter when it gives up,
//! all inside the message's `keel.handle` span.

use std::sync::OnceLock;

use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message};
use tokio::sync::watch;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::super::{ConsumerConfig, headers};
use super::message::{ConsumedMessage, HandlerError, MessageHandler};
use crate::Result;
use crate::telemetry::context_from_headers;

/// The dead-letter producer, created when the first dead letter is sent: most consumers never
/// send one, and every idle librdkafka producer costs a polling thread.
pub(super) struct DeadLetters {
    config: ClientConfig,
    producer: OnceLock<FutureProducer>,
}

impl DeadLetters {
    /// A producer with this (validated) configuration, not created yet.
    pub(super) fn new(config: ClientConfig) -> Self {
        Self {
            config,
            producer: OnceLock::new(),
        }
    }

    fn producer(&self) -> Result<&FutureProducer> {
        if let Some(producer) = self.producer.get() {
            return Ok(producer);
        }
        let created: FutureProducer = self.config.create()?;
        // Two first dead letters at once: one producer wins, the other is dropped.
        Ok(self.producer.get_or_init(|| created))
    }
}

/// How processing one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Processed {
    /// Handled or dead-lettered: its offset may be committed.
    Done,
    /// Shutdown came first (during a backoff or the dead letter's publication); the message
    /// stays uncommitted and is delivered again.
    Interrupted,
}

/// Completes once `stop` says the consumer stops.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // A closed channel means the consumer is gone: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Milliseconds from `timestamp_ms` (since the epoch) to now; 0 for a timestamp ahead of the
/// clock.
fn age_ms(timestamp_ms: i64) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now.saturating_sub(timestamp_ms).max(0)
}

/// Handles `message` with retries and dead-letters it if need be. Shutdown (`stop`) is
/// honoured during backoff waits and the dead letter's publication; a handler call in progress
/// is finished.
pub(super) async fn process<H: MessageHandler>(
    config: &ConsumerConfig,
    dead_letters: &DeadLetters,
    handler: &H,
    message: &OwnedMessage,
    mut stop: watch::Receiver<bool>,
) -> Result<Processed> {
    let view = ConsumedMessage::from_owned(message);
    let span = tracing::info_span!(
        "keel.handle",
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.destination.name = %view.topic,
        messaging.kafka.partition = view.partition,
        messaging.kafka.offset = view.offset,
        // How long the record waited between its timestamp (the producer's send, by default)
        // and this handler: the consumer's lag as one record saw it.
        messaging.kafka.message.age_ms = view.timestamp_ms.map(age_ms),
        attempts = Empty,
        dead_lettered = Empty,
        otel.status_code = Empty,
    );
    if view.headers.contains_key(headers::TRACEPARENT) {
        let _ = span.set_parent(context_from_headers(&view.headers));
    }
    async {
        let (topic, partition, offset) = (view.topic.as_str(), view.partition, view.offset);
        let max_attempts = config.max_attempts;
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
                let wait = config.backoff(attempt);
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
                    () = stopped(&mut stop) => return Ok(Processed::Interrupted),
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
            let topic = config.dead_letter_topic(message.topic());
            tokio::select! {
                biased;
                () = stopped(&mut stop) => return Ok(Processed::Interrupted),
                sent = dead_letter(dead_letters.producer()?, &topic, message, error.reason(), attempt) => sent?,
            }
        }
        Ok(Processed::Done)
    }
    .instrument(span)
    .await
}

/// Publishes the original record to `topic` with the dead-letter headers and waits for the ack.
async fn dead_letter(
    producer: &FutureProducer,
    topic: &str,
    message: &OwnedMessage,
    reason: &str,
    attempts: u32,
) -> Result<()> {
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
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).headers(out);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    match producer.send(record, Timeout::Never).await {
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
