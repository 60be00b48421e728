//! Consuming commands (participants) and replies (coordinator) with keel-core's consumer.

use std::future::Future;
use std::sync::Arc;

use keel_core::kafka::{ConsumedMessage, HandlerError, KafkaConsumer};
use serde::de::DeserializeOwned;

use super::{KafkaReplies, KafkaSagaConfig};
use crate::coordinator::Coordinator;
use crate::message::{CommandEnvelope, Reply};
use crate::participant::{CommandHandler, Participant};
use crate::store::{InboxStore, SagaStore};
use crate::transport::Transport;
use crate::{Error, Result};

fn decode<T: DeserializeOwned>(message: &ConsumedMessage, what: &str) -> Result<T, HandlerError> {
    let payload = message
        .payload
        .as_deref()
        .ok_or_else(|| HandlerError::permanent(format!("{what} without a payload")))?;
    serde_json::from_slice(payload)
        .map_err(|e| HandlerError::permanent(format!("{what} does not decode: {e}")))
}

fn handler_error(error: Error) -> HandlerError {
    if error.is_retryable() {
        HandlerError::retryable(&error)
    } else {
        HandlerError::permanent(&error)
    }
}

/// Serves `participant`'s command topic in consumer group `group` until `shutdown`: each
/// command is handled at most once (the participant's inbox) and its reply sent to the reply
/// topic before the offset is committed. Undecodable commands go to `<topic>.dlq`.
pub async fn serve_participant<H, I>(
    participant: Arc<Participant<H, I>>,
    config: &KafkaSagaConfig,
    group: &str,
    shutdown: impl Future,
) -> Result<()>
where
    H: CommandHandler,
    I: InboxStore,
{
    let replies = Arc::new(KafkaReplies::new(config)?);
    let consumer =
        KafkaConsumer::new(config.consumer(group, config.command_topic(participant.name())))?;
    let handler = move |message: ConsumedMessage| {
        let participant = Arc::clone(&participant);
        let replies = Arc::clone(&replies);
        async move {
            let command: CommandEnvelope = decode(&message, "a command")?;
            let reply = participant.handle(&command).await.map_err(handler_error)?;
            replies.send(&reply).await.map_err(handler_error)
        }
    };
    Ok(consumer.run(handler, shutdown).await?)
}

/// Applies replies from the reply topic (consumer group `group`) until `shutdown`. A reply
/// for an unknown saga goes to the saga dead-letter table; an undecodable one to
/// `<reply_topic>.dlq`. Run [`Coordinator::run_deadlines`] beside it for timeouts.
pub async fn consume_replies<S, T>(
    coordinator: Arc<Coordinator<S, T>>,
    config: &KafkaSagaConfig,
    group: &str,
    shutdown: impl Future,
) -> Result<()>
where
    S: SagaStore,
    T: Transport,
{
    let consumer = KafkaConsumer::new(config.consumer(group, config.reply_topic.clone()))?;
    let handler = move |message: ConsumedMessage| {
        let coordinator = Arc::clone(&coordinator);
        async move {
            let reply: Reply = decode(&message, "a reply")?;
            coordinator
                .handle_reply(reply)
                .await
                .map(|_| ())
                .map_err(handler_error)
        }
    };
    Ok(consumer.run(handler, shutdown).await?)
}
