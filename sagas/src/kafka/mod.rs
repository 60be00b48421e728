//! Kafka transport (feature `kafka`): one command topic per participant, one reply topic.
//!
//! - The coordinator sends with [`KafkaTransport`]: key = saga id, value = the
//!   [`CommandEnvelope`](crate::CommandEnvelope) as JSON, headers `traceparent`/`tracestate`
//!   (the step span's context) and the `keel.saga.*` headers below; a send returns after the
//!   broker acknowledged (`acks=all`, idempotent producer).
//! - Participants consume with [`serve_participant`] and reply to the reply topic; the
//!   coordinator consumes replies with [`consume_replies`] and fires deadlines with
//!   [`Coordinator::run_deadlines`](crate::Coordinator::run_deadlines).
//! - Both consumers are keel-core's `KafkaConsumer`: offsets committed after handling,
//!   retries with backoff, and a message that cannot be decoded goes to `<topic>.dlq` with its
//!   reason. A reply for an unknown saga goes to the saga dead-letter table instead.

mod config;
mod serve;
mod transport;

pub use config::KafkaSagaConfig;
pub use serve::{consume_replies, serve_participant};
pub use transport::{KafkaReplies, KafkaTransport};

/// Header: the command's id.
pub const COMMAND_ID: &str = "keel.saga.command_id";
/// Header: the saga type.
pub const SAGA_TYPE: &str = "keel.saga.type";
/// Header: the saga id (also the record key).
pub const SAGA_ID: &str = "keel.saga.id";
