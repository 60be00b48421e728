//! The outbox relay: publishes the store's outbox to Kafka, at least once, in outbox order.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::RelayConfig;
use super::headers;
use crate::event::RecordedEvent;
use crate::store::{EventStore, Outbox, OutboxEntry, Position};
use crate::telemetry::set_parent_from_metadata;
use crate::{Error, Result};

type Router = Arc<dyn Fn(&RecordedEvent) -> String + Send + Sync>;

/// Publishes a store's [`Outbox`] to Kafka.
///
/// Every entry becomes one record: key = the stream id (so one entity's events share a
/// partition and keep their order), value = the whole [`RecordedEvent`] as JSON, headers =
/// [`headers::EVENT_ID`](super::headers::EVENT_ID) and its siblings plus the event's W3C
/// `traceparent`/`tracestate`. The producer is idempotent with `acks=all`.
///
/// Delivery is at least once: an entry is marked published only after the broker acknowledged
/// it, and of a batch only the acknowledged prefix (in outbox order) is marked; the rest is sent
/// again later, so consumers see duplicates and deduplicate by event id. After a failed batch
/// every send of that batch has settled before the next batch starts; still, a record that
/// failed may arrive after one that followed it and succeeded, so consumers that care about a
/// stream's order guard by `stream_version`.
///
/// Tracing: one `keel.publish` span per batch and, inside it, one `keel.publish.event` span per
/// event whose OpenTelemetry parent is the event's own trace context (from its metadata), so
/// the publish shows up in the trace that recorded the event; it links back to the batch span.
///
/// ```no_run
/// # async fn demo() -> keel_core::Result<()> {
/// use keel_core::kafka::{OutboxRelay, RelayConfig};
/// use keel_core::store::MemoryStore;
///
/// let relay = OutboxRelay::new(MemoryStore::new(), RelayConfig::new("127.0.0.1:9092", "events"))?
///     .with_router(|event| format!("events.{}", event.event_type));
/// relay.run(tokio::signal::ctrl_c()).await?;
/// # Ok(()) }
/// ```
pub struct OutboxRelay<S> {
    store: S,
    config: RelayConfig,
    producer: FutureProducer,
    router: Router,
}

impl<S> fmt::Debug for OutboxRelay<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a batch did before it settled.
struct Settled {
    /// Outbox ids acknowledged by the broker, in outbox order, with no failure before them.
    acked: Vec<i64>,
    /// The first failure, if any.
    failure: Option<Error>,
}

impl<S: Outbox + EventStore> OutboxRelay<S> {
    /// A relay over `store` publishing as `config` says (to `config.topic` until
    /// [`with_router`](Self::with_router) picks topics). Fails on an invalid configuration;
    /// connecting to the brokers happens in the background.
    pub fn new(store: S, config: RelayConfig) -> Result<Self> {
        let producer: FutureProducer = config.producer_config()?.create()?;
        let topic = config.topic.clone();
        Ok(Self {
            store,
            config,
            producer,
            router: Arc::new(move |_| topic.clone()),
        })
    }

    /// Chooses each event's topic with `router` instead of the configured fixed topic.
    #[must_use]
    pub fn with_router(
        mut self,
        router: impl Fn(&RecordedEvent) -> String + Send + Sync + 'static,
    ) -> Self {
        self.router = Arc::new(router);
        self
    }

    /// The store the relay reads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Publishes one batch of up to `batch_size` pending entries and marks the acknowledged
    /// prefix published. Returns how many were marked; an error means part of the batch (maybe
    /// all) is still pending and will be published by a later call.
    pub async fn publish_batch(&self) -> Result<usize> {
        let entries = self.store.pending(self.config.batch_size).await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let span = tracing::info_span!(
            "keel.publish",
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.batch.message_count = entries.len(),
            published = Empty,
            otel.status_code = Empty,
        );
        self.publish_entries(&entries).instrument(span).await
    }

    async fn publish_entries(&self, entries: &[OutboxEntry]) -> Result<usize> {
        let settled = self.settle(self.send_all(entries)).await;
        let published = settled.acked.len();
        if published > 0 {
            self.store.mark_published(&settled.acked).await?;
        }
        Span::current().record("published", published);
        match settled.failure {
            None => Ok(published),
            Some(error) => {
                Span::current().record("otel.status_code", "ERROR");
                tracing::warn!(
                    published,
                    pending = entries.len() - published,
                    error = %error,
                    "outbox batch partly published; the rest stays pending"
                );
                Err(error)
            }
        }
    }

    /// Enqueues every entry in order, stopping at the first that cannot be enqueued.
    fn send_all(
        &self,
        entries: &[OutboxEntry],
    ) -> (Vec<(i64, Span, DeliveryFuture)>, Option<Error>) {
        let batch = Span::current().context().span().span_context().clone();
        let mut in_flight = Vec::with_capacity(entries.len());
        for entry in entries {
            let event = &entry.event;
            let topic = (self.router)(event);
            let span = tracing::info_span!(
                "keel.publish.event",
                otel.kind = "producer",
                messaging.system = "kafka",
                messaging.destination.name = %topic,
                messaging.kafka.partition = Empty,
                messaging.kafka.offset = Empty,
                otel.status_code = Empty,
                event_id = %event.event_id,
                event_type = %event.event_type,
                stream_id = %event.stream_id,
                stream_version = event.stream_version,
            );
            if event.metadata.traceparent.is_some() {
                set_parent_from_metadata(&span, &event.metadata);
                span.add_link(batch.clone());
            }
            let payload = match serde_json::to_vec(event) {
                Ok(payload) => payload,
                Err(source) => {
                    let what = format!("event {} for Kafka", event.event_id);
                    return (in_flight, Some(Error::Serialize { what, source }));
                }
            };
            let record = FutureRecord::to(&topic)
                .key(event.stream_id.as_str())
                .payload(&payload)
                .headers(headers::for_event(event));
            match self.producer.send_result(record) {
                Ok(delivery) => in_flight.push((entry.id, span, delivery)),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if !in_flight.is_empty() =>
                {
                    tracing::debug!(
                        queued = in_flight.len(),
                        "producer queue full; batch cut short"
                    );
                    return (in_flight, None);
                }
                Err((error, _)) => {
                    span.record("otel.status_code", "ERROR");
                    return (in_flight, Some(error.into()));
                }
            }
        }
        (in_flight, None)
    }

    /// Waits for every enqueued record to be acknowledged or to fail.
    async fn settle(
        &self,
        (in_flight, mut failure): (Vec<(i64, Span, DeliveryFuture)>, Option<Error>),
    ) -> Settled {
        let mut acked = Vec::with_capacity(in_flight.len());
        let mut intact = true;
        for (id, span, delivery) in in_flight {
            let error = match delivery.instrument(span.clone()).await {
                Ok(Ok(delivery)) => {
                    span.record("messaging.kafka.partition", delivery.partition);
                    span.record("messaging.kafka.offset", delivery.offset);
                    if intact {
                        acked.push(id);
                    }
                    continue;
                }
                Ok(Err((error, _))) => error,
                Err(_canceled) => KafkaError::Canceled,
            };
            span.record("otel.status_code", "ERROR");
            span.in_scope(|| tracing::warn!(outbox_id = id, error = %error, "publishing failed"));
            intact = false;
            failure.get_or_insert(error.into());
        }
        Settled { acked, failure }
    }

    /// Publishes until `shutdown` completes: a full batch is followed at once by the next; when
    /// the outbox is drained it waits for new events ([`EventStore::wait_for_new`], at most
    /// `poll_interval_ms`); after a failure it waits with exponential backoff
    /// (`backoff_initial_ms` doubling up to `backoff_max_ms`) and tries again.
    ///
    /// Shutdown cancels a batch in flight; its entries stay pending and are published again by
    /// the next run (at least once). Returns an error only when the producer hit a fatal error
    /// (it cannot publish any more and the relay must be rebuilt).
    pub async fn run<F: Future>(&self, shutdown: F) -> Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            // The head is read before the outbox, so an append in between wakes the wait below.
            let head = self.store.head().await;
            let outcome = tokio::select! {
                biased;
                _ = &mut shutdown => return Ok(()),
                outcome = self.publish_batch() => outcome,
            };
            let idle = match outcome {
                Ok(published) if published >= self.config.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    match head {
                        Ok(head) => Idle::ForNew(head),
                        Err(_) => Idle::Sleep(Duration::from_millis(self.config.poll_interval_ms)),
                    }
                }
                Err(error) => {
                    if let Some((code, reason)) = self.producer.client().fatal_error() {
                        tracing::error!(?code, reason, "the relay's producer failed fatally");
                        return Err(KafkaError::MessageProduction(code).into());
                    }
                    failures = failures.saturating_add(1);
                    let wait = self.config.backoff(failures);
                    tracing::warn!(
                        failures,
                        retry_in_ms = wait.as_millis() as u64,
                        error = %error,
                        "outbox relay batch failed; retrying"
                    );
                    Idle::Sleep(wait)
                }
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => return Ok(()),
                () = self.idle(idle) => {}
            }
        }
    }

    async fn idle(&self, idle: Idle) {
        match idle {
            Idle::ForNew(head) => {
                let poll = Duration::from_millis(self.config.poll_interval_ms);
                self.store.wait_for_new(head, poll).await;
            }
            Idle::Sleep(wait) => tokio::time::sleep(wait).await,
        }
    }
}

/// What `run` waits for between batches.
enum Idle {
    /// Events after this position (or the poll interval).
    ForNew(Position),
    /// A backoff.
    Sleep(Duration),
}
