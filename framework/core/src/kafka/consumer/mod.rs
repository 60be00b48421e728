//! The consumer helper: a consumer group member that hands messages to a handler, concurrently
//! across keys and in order within one, retries retryable failures with backoff, dead-letters
//! what cannot be handled, and commits only the offsets before the first unfinished message.

mod book;
mod context;
mod message;
mod offsets;
mod process;

use std::fmt;
use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use tokio::sync::watch;

pub use message::{ConsumedMessage, HandlerError, MessageHandler};

use super::ConsumerConfig;
use crate::Result;
use book::{Admitted, Book, Ending, Ticket};
use context::{Rebalancing, offsets};
use process::{DeadLetters, Processed, process};

/// A consumer group member that runs a [`MessageHandler`] on every message of its topics.
///
/// - **Concurrency and order:** messages run concurrently, up to
///   [`max_in_flight`](ConsumerConfig::max_in_flight) received and unfinished at once, except
///   where [`processing_order`](ConsumerConfig::processing_order) keeps them in order: by default
///   ([`ProcessingOrder::Key`](super::ProcessingOrder::Key)) the messages with the same key in a
///   partition (one entity, one saga) are handled one at a time in offset order, and a message
///   being retried holds back only the later messages of its key.
///   [`ProcessingOrder::Partition`](super::ProcessingOrder::Partition) keeps a whole partition
///   in order; `max_in_flight = 1` handles one message at a time. Several handler calls may
///   run at once, so the handler must be safe to call concurrently (it is `Sync`).
/// - **Offsets** are committed only up to the first message of each partition that is not
///   finished (handled, or dead-lettered and acknowledged), never past it
///   (`enable.auto.commit=false`): a crash re-delivers the messages after the last commit, some
///   of which may have been handled already, so handlers must be idempotent (dedupe by event
///   id). Commits are asynchronous every `commit_interval_ms` while running, synchronous when
///   `run` ends (or the consumer is dropped), and synchronous for a partition revoked by a
///   rebalance, before its new owner starts. A revoked partition's messages still waiting are
///   dropped and those still running finish without committing: the new owner gets them again.
///   A group without committed offsets starts at the earliest message unless
///   `auto.offset.reset` says otherwise.
/// - **Retries:** a [`HandlerError::Retryable`] is retried after `backoff_initial_ms`, doubling
///   up to `backoff_max_ms`, until `max_attempts` attempts; then, or at once for a
///   [`HandlerError::Permanent`], the original record (same key, payload and headers) goes to
///   `<topic><dead_letter_suffix>` with the headers [`headers::ERROR`](super::headers::ERROR),
///   [`ERROR_ATTEMPTS`](super::headers::ERROR_ATTEMPTS),
///   [`ORIGINAL_TOPIC`](super::headers::ORIGINAL_TOPIC),
///   [`ORIGINAL_PARTITION`](super::headers::ORIGINAL_PARTITION) and
///   [`ORIGINAL_OFFSET`](super::headers::ORIGINAL_OFFSET), and the consumer goes on.
/// - **Liveness:** no message is fetched while `max_in_flight` are unfinished. Keep
///   `max_attempts` × `backoff_max_ms` below `max.poll.interval.ms` (default 300 s) or the
///   broker considers the consumer dead and hands its partitions to another member.
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
    consumer: StreamConsumer<Rebalancing>,
    dead_letters: DeadLetters,
    /// Set once `run` made its final commit, so that dropping commits nothing more.
    closed: bool,
}

impl fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// A consumer subscribed to `config.topics` as member of `config.group_id`. Its
    /// dead-letter producer (idempotent, `acks=all`) is configured now and created with the
    /// first dead letter. Fails on an invalid configuration; connecting happens in the
    /// background.
    pub fn new(config: ConsumerConfig) -> Result<Self> {
        let context = Rebalancing::new(
            Book::new(config.processing_order),
            config.cooperative_rebalancing(),
        );
        let consumer: StreamConsumer<Rebalancing> =
            config.consumer_config()?.create_with_context(context)?;
        let dead_letters = DeadLetters::new(config.producer_config()?);
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            config,
            consumer,
            dead_letters,
            closed: false,
        })
    }

    /// Handles messages until `shutdown` completes, then lets the handler calls in progress
    /// finish, commits what was handled and leaves the group. Shutdown is honoured between
    /// messages and during backoff waits; a message interrupted that way, and every later one
    /// of its partition, is not committed and is delivered again.
    ///
    /// Returns an error when a dead letter could not be published: the consumer stops, and
    /// that message's offset is not committed, so it is handled again by the next consumer of
    /// the group.
    pub async fn run<H, F>(mut self, handler: H, shutdown: F) -> Result<()>
    where
        H: MessageHandler,
        F: Future,
    {
        let outcome = self.consume(&handler, shutdown).await;
        let committed = self.commit_sync();
        self.closed = true;
        self.consumer.context().close();
        outcome.and(committed)
    }

    /// The receive loop: admits messages to the book, runs the ones it starts, feeds their
    /// ends back, and commits periodically.
    async fn consume<H, F>(&self, handler: &H, shutdown: F) -> Result<()>
    where
        H: MessageHandler,
        F: Future,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let (stop_tx, stop) = watch::channel(false);
        let start = |ticket: Ticket, message: OwnedMessage| {
            let stop = stop.clone();
            async move {
                let processed =
                    process(&self.config, &self.dead_letters, handler, &message, stop).await;
                (ticket, processed)
            }
        };
        let mut running = FuturesUnordered::new();
        let mut commit_tick = tokio::time::interval(self.config.commit_interval());
        commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failure = None;
        let mut stopping = false;
        let mut receive_failures = 0u32;
        let mut receive_after: Option<tokio::time::Instant> = None;
        loop {
            if stopping && running.is_empty() {
                break;
            }
            let receiving = !stopping
                && receive_after.is_none()
                && self.book().in_flight() < self.config.max_in_flight;
            tokio::select! {
                biased;
                _ = shutdown.as_mut(), if !stopping => {
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
                _ = commit_tick.tick() => self.commit_async(),
                Some((ticket, processed)) = running.next(), if !running.is_empty() => {
                    let ending = match processed {
                        Ok(Processed::Done) => Ending::Done,
                        Ok(Processed::Interrupted) => Ending::Abandoned,
                        Err(error) => {
                            failure.get_or_insert(error);
                            stopping = true;
                            let _ = stop_tx.send(true);
                            Ending::Abandoned
                        }
                    };
                    let next = self.book().finish(&ticket, ending);
                    if let Some((ticket, message)) = next {
                        if stopping {
                            // Nothing new starts after shutdown: it stays uncommitted.
                            self.book().finish(&ticket, Ending::Abandoned);
                        } else {
                            running.push(start(ticket, message));
                        }
                    }
                }
                received = self.consumer.recv(), if receiving => match received {
                    Ok(message) => {
                        receive_failures = 0;
                        let message = message.detach();
                        if let Some((ticket, message)) = self.admit(message) {
                            running.push(start(ticket, message));
                        }
                    }
                    Err(error) => {
                        receive_failures = receive_failures.saturating_add(1);
                        let wait = self.config.backoff(receive_failures);
                        tracing::warn!(
                            error = %error,
                            retry_in_ms = wait.as_millis() as u64,
                            "receiving from Kafka failed"
                        );
                        receive_after = Some(tokio::time::Instant::now() + wait);
                    }
                },
                () = tokio::time::sleep_until(receive_after.unwrap_or_else(tokio::time::Instant::now)),
                    if receive_after.is_some() => receive_after = None,
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Books a received message; returns it when it may start now.
    fn admit(&self, message: OwnedMessage) -> Option<(Ticket, OwnedMessage)> {
        let tp = (message.topic().to_owned(), message.partition());
        let (offset, key) = (message.offset(), message.key().map(<[u8]>::to_vec));
        let admitted = self.book().receive(tp, offset, key, message);
        match admitted {
            Admitted::Start(ticket, message) => Some((ticket, message)),
            Admitted::Queued => None,
            Admitted::NotAssigned(message) => {
                tracing::debug!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset,
                    "message of a partition no longer assigned; left to its owner"
                );
                None
            }
            Admitted::Blocked(message) => {
                tracing::debug!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset,
                    "an earlier message of this key was given up on; left uncommitted"
                );
                None
            }
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book<OwnedMessage>> {
        self.consumer.context().book()
    }

    /// Commits, asynchronously, each partition whose finished prefix moved.
    fn commit_async(&self) {
        let commits = self.book().advanced();
        if commits.is_empty() {
            return;
        }
        let committed =
            offsets(&commits).and_then(|list| self.consumer.commit(&list, CommitMode::Async));
        if let Err(error) = committed {
            tracing::warn!(error = %error, "asynchronous commit failed; committing again on shutdown");
        }
    }

    /// Commits, synchronously, every assigned partition's finished prefix.
    fn commit_sync(&self) -> Result<()> {
        let commits = self.book().committable();
        if commits.is_empty() {
            return Ok(());
        }
        self.consumer
            .commit(&offsets(&commits)?, CommitMode::Sync)?;
        Ok(())
    }
}

impl Drop for KafkaConsumer {
    /// A `run` cancelled mid-way still commits what it finished (never past a message that
    /// was not).
    fn drop(&mut self) {
        if !self.closed
            && let Err(error) = self.commit_sync()
        {
            tracing::warn!(error = %error, "committing handled offsets on drop failed");
        }
        self.consumer.context().close();
    }
}
