//! A Kafka topic of domain events as a projection's source (feature `kafka`): the records
//! keel-core's `OutboxRelay` publishes (value = a `RecordedEvent` as JSON), consumed by a group
//! member that commits offsets only after the sinks acknowledged.
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`KafkaProjectionRunner`]: poll, batch by size and time, apply, commit |
//! | `records.rs` | records to events and dead letters, offsets to commit, the client configuration |
//! | `lag.rs` | the group's lag: committed offsets against high watermarks, record timestamps |

mod lag;
mod records;

use std::future::Future;
use std::sync::Arc;

use keel_core::RecordedEvent;
use keel_core::event::Upcasters;
use keel_core::kafka::ConsumerConfig;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use tokio::time::Instant;

use crate::config::{ErrorTolerance, RunnerConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStore};
use crate::projection::Projection;
use crate::runner::Lag;
use crate::runner::pipeline::Pipeline;
use crate::sink::Sink;
use crate::{Error, Result};
use records::kafka_error;

/// Runs one projection from Kafka topics of domain events instead of the store.
///
/// - Reads the topics of `source` as a member of its consumer group (`group_id`; `topics`,
///   `bootstrap_servers` and `properties` are used, retries and dead letters are the runner's:
///   [`RunnerConfig`], [`with_dead_letters`](Self::with_dead_letters)). A group without committed
///   offsets starts at the earliest record unless `auto.offset.reset` says otherwise.
/// - Batches by `batch.size` and `flush.timeout.ms`, applies a batch exactly as the store-fed
///   [`ProjectionRunner`](crate::ProjectionRunner) does (decode, load, version guard, write to
///   every sink with retries, dead letters), then commits, per partition, the offset after the
///   batch's last record. Never before the sinks acknowledged: a crash or a shutdown re-delivers
///   the records after the last commit, and the version guard makes them harmless.
/// - A record that is not a `RecordedEvent` stops the runner with [`Error::NotAnEvent`], or,
///   with `errors.tolerance = all`, is dead-lettered (stage `Source`) and skipped.
/// - Order: records of a partition (the relay keys them by stream id) are applied in order.
///   While a batch is retried nothing is polled: keep the retry time below
///   `max.poll.interval.ms` (300 s by default) or the group hands the partitions to another
///   member (which re-reads them; still correct).
pub struct KafkaProjectionRunner<P> {
    source: ConsumerConfig,
    client: ClientConfig,
    pipeline: Pipeline<P>,
}

impl<P> std::fmt::Debug for KafkaProjectionRunner<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProjectionRunner")
            .field("source", &self.source)
            .field("pipeline", &self.pipeline)
            .finish_non_exhaustive()
    }
}

impl<P: Projection> KafkaProjectionRunner<P> {
    /// A runner for `projection` reading `source`'s topics, with the default [`RunnerConfig`]
    /// and no sink yet. Checks the client configuration by creating a consumer once;
    /// [`run`](Self::run) creates its own and joins the group.
    pub fn new(source: ConsumerConfig, projection: P) -> Result<Self> {
        let client = records::client_config(&source)?;
        let _checked: StreamConsumer = client.create().map_err(kafka_error)?;
        Ok(Self {
            source,
            client,
            pipeline: Pipeline::new(projection),
        })
    }

    /// Adds a sink; the first one added is also where documents are read back from.
    #[must_use]
    pub fn with_sink(mut self, sink: impl Sink) -> Self {
        self.pipeline.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink.
    #[must_use]
    pub fn with_shared_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.pipeline.sinks.push(sink);
        self
    }

    /// Sets the dead-letter destination (see
    /// [`ProjectionRunner::with_dead_letters`](crate::ProjectionRunner::with_dead_letters)).
    #[must_use]
    pub fn with_dead_letters(mut self, destination: impl DeadLetterStore) -> Self {
        self.pipeline.dead_letters = Some(Arc::new(destination));
        self
    }

    /// Sets the configuration, refusing invalid values.
    pub fn with_config(mut self, config: RunnerConfig) -> Result<Self> {
        config.validate()?;
        self.pipeline.config = config;
        Ok(self)
    }

    /// Sets the upcasters that lift old payloads to the versions the projection reads.
    #[must_use]
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.pipeline.upcasters = Arc::new(upcasters);
        self
    }

    /// The projection's name.
    pub fn name(&self) -> &str {
        self.pipeline.name()
    }

    /// How far the consumer group is behind, over every partition of its topics (whichever
    /// member reads it): `events_behind` is the sum of each partition's high watermark minus the
    /// group's committed offset (without a commit: where `auto.offset.reset` starts a new
    /// member), `ms_behind` the age of the oldest first uncommitted record, from its timestamp
    /// (0 when caught up). Reads offsets and at most one record per partition with a probe
    /// consumer of its own that never joins the group nor commits.
    pub async fn lag(&self) -> Result<Lag> {
        let client = self.client.clone();
        let topics = self.source.topics.clone();
        let reset_latest = client
            .get("auto.offset.reset")
            .is_some_and(|v| matches!(v, "latest" | "largest" | "end"));
        let timeout = std::time::Duration::from_secs(10);
        tokio::task::spawn_blocking(move || {
            let probe: BaseConsumer = client.create().map_err(kafka_error)?;
            lag::measure(&probe, &topics, reset_latest, timeout)
        })
        .await
        .map_err(|e| Error::Kafka {
            reason: format!("the lag task failed: {e}"),
        })?
    }

    /// Joins the group, consumes, projects and commits until `shutdown` completes or a batch
    /// fails for good, then closes its consumer, leaving the group (its partitions go to the
    /// other members at once). Records read but not yet acknowledged then are read again next
    /// time.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.pipeline.check()?;
        let consumer: Arc<StreamConsumer> = Arc::new(self.client.create().map_err(kafka_error)?);
        let topics: Vec<&str> = self.source.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kafka_error)?;
        tokio::select! {
            () = shutdown => Ok(()),
            result = self.follow(&consumer) => result,
        }
    }

    async fn follow(&self, consumer: &Arc<StreamConsumer>) -> Result<()> {
        let config = &self.pipeline.config;
        let mut buffer: Vec<OwnedMessage> = Vec::new();
        let mut deadline: Option<Instant> = None;
        loop {
            let due = deadline.is_some_and(|d| Instant::now() >= d);
            if buffer.len() >= config.batch_size || (due && !buffer.is_empty()) {
                self.flush(consumer, &buffer).await?;
                buffer.clear();
                deadline = None;
                continue;
            }
            let wait = deadline.map_or(config.poll_interval(), |d| {
                d.saturating_duration_since(Instant::now())
            });
            match tokio::time::timeout(wait, consumer.recv()).await {
                Err(_) => {}
                Ok(Ok(message)) => {
                    buffer.push(message.detach());
                    deadline.get_or_insert_with(|| Instant::now() + config.flush_timeout());
                }
                Ok(Err(error)) => {
                    tracing::warn!(projection = self.name(), %error, "Kafka consumer error; polling on.");
                    tokio::time::sleep(config.poll_interval().min(wait)).await;
                }
            }
        }
    }

    /// Applies one batch, then commits the offsets after it.
    async fn flush(&self, consumer: &Arc<StreamConsumer>, batch: &[OwnedMessage]) -> Result<()> {
        let mut events: Vec<RecordedEvent> = Vec::with_capacity(batch.len());
        let mut letters: Vec<DeadLetter> = Vec::new();
        for message in batch {
            match records::event(message) {
                Ok(event) => events.push(event),
                Err(reason) => {
                    if self.pipeline.config.errors_tolerance == ErrorTolerance::None {
                        return Err(Error::NotAnEvent {
                            projection: self.name().to_owned(),
                            origin: records::origin(message),
                            reason,
                        });
                    }
                    tracing::warn!(projection = self.name(), origin = %records::origin(message), %reason, "Record is not an event; dead-lettered.");
                    letters.push(records::not_an_event(self.name(), message, &reason));
                }
            }
        }
        let applied = self.pipeline.apply(events, letters).await?;
        self.commit(consumer, batch).await?;
        tracing::debug!(
            projection = self.name(),
            records = batch.len(),
            changes = applied.changes,
            dead_letters = applied.dead_letters,
            "Batch committed."
        );
        Ok(())
    }

    /// Commits the offsets after `batch` and waits for the broker. A failed commit is logged:
    /// the records are delivered again later (to this member or, after a rebalance, another),
    /// which the version guard makes harmless.
    async fn commit(&self, consumer: &Arc<StreamConsumer>, batch: &[OwnedMessage]) -> Result<()> {
        let offsets = records::next_offsets(batch)?;
        let consumer = consumer.clone();
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
                .await
                .map_err(|e| Error::Kafka {
                    reason: format!("the commit task failed: {e}"),
                })?;
        if let Err(error) = committed {
            tracing::warn!(projection = self.name(), %error, "Offset commit failed; the batch will be delivered again.");
        }
        Ok(())
    }
}
