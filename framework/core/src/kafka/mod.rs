//! Kafka (feature `kafka`): the [`OutboxRelay`] that publishes the store's outbox, and the
//! [`KafkaConsumer`] helper that handles messages with retries, dead letters and commits after
//! success. Both follow the delivery contract: at least once, never an offset or outbox mark
//! ahead of an acknowledgement, and nothing dropped silently.
//!
//! A published record: key = stream id, value = the [`RecordedEvent`](crate::RecordedEvent) as
//! JSON, headers named in [`headers`], W3C trace context included, so a consumer's
//! `keel.handle` span joins the trace that recorded the event.

mod config;
mod consumer;
pub mod headers;
mod relay;

pub use config::{ConsumerConfig, ProcessingOrder, RelayConfig};
pub use consumer::{ConsumedMessage, HandlerError, KafkaConsumer, MessageHandler};
pub use relay::OutboxRelay;
