//! The participant side: run a command handler at most once per command and reply.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::Result;
use crate::message::{CommandEnvelope, Reply, ReplyOutcome};
use crate::store::InboxStore;
use crate::telemetry;

/// A participant's business logic for the commands it receives.
///
/// Return `Ok(ReplyOutcome::Failure { .. })` for a business refusal (the saga compensates) and
/// `Err(_)` for an infrastructure problem (nothing is recorded; a re-delivery runs it again).
#[async_trait]
pub trait CommandHandler: Send + Sync + 'static {
    /// Handles one command.
    async fn handle(&self, command: &CommandEnvelope) -> Result<ReplyOutcome>;
}

/// A handler that writes through the participant's own database connection `C`, so its effect
/// and the inbox row commit in one transaction (see `SqliteSagaStore::handle_once` and
/// `PostgresSagaStore::handle_once`).
#[async_trait]
pub trait TransactionalHandler<C: Send>: Send + Sync {
    /// Handles one command inside the transaction `conn`.
    async fn handle(&self, conn: &mut C, command: &CommandEnvelope) -> Result<ReplyOutcome>;
}

/// Wraps a [`CommandHandler`] with an inbox: a command whose idempotency key was handled already
/// is answered with the recorded outcome, never handled twice. The outcome is recorded after
/// the handler succeeded; when the handler writes to the inbox's database, prefer the stores'
/// `handle_once`, which commits both in one transaction.
#[derive(Debug)]
pub struct Participant<H, I> {
    name: String,
    handler: H,
    inbox: I,
}

impl<H: CommandHandler, I: InboxStore> Participant<H, I> {
    /// A participant named `name` (the address commands are sent to).
    pub fn new(name: impl Into<String>, handler: H, inbox: I) -> Self {
        Self {
            name: name.into(),
            handler,
            inbox,
        }
    }

    /// The participant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Handles `command` at most once and returns the reply to send back.
    pub async fn handle(&self, command: &CommandEnvelope) -> Result<Reply> {
        let span = tracing::info_span!(
            "keel.saga.participant",
            participant = %self.name,
            saga_type = %command.saga_type,
            saga_id = %command.saga_id,
            step = command.step,
            attempt = command.attempt,
            kind = %command.kind,
            command_type = %command.command_type,
        );
        telemetry::set_parent(&span, &command.headers);
        async {
            if let Some(outcome) = self
                .inbox
                .recorded(&self.name, &command.idempotency_key)
                .await?
            {
                tracing::info!(command_id = %command.command_id, key = %command.idempotency_key, "duplicate command answered from the inbox");
                return Ok(command.reply(outcome));
            }
            let outcome = self.handler.handle(command).await?;
            self.inbox
                .record(&self.name, &command.idempotency_key, &outcome)
                .await?;
            Ok(command.reply(outcome))
        }
        .instrument(span)
        .await
    }

    /// Serves commands from `commands` until the channel closes, sending each reply to
    /// `replies`. A handler error is logged and the command gets no reply (the coordinator's
    /// timeout re-sends it).
    pub async fn serve(
        self: Arc<Self>,
        mut commands: mpsc::Receiver<CommandEnvelope>,
        replies: mpsc::Sender<Reply>,
    ) {
        while let Some(command) = commands.recv().await {
            match self.handle(&command).await {
                Ok(reply) => {
                    if replies.send(reply).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, participant = %self.name, command_id = %command.command_id, "command handling failed; no reply");
                }
            }
        }
    }
}

#[async_trait]
impl<F, Fut> CommandHandler for F
where
    F: Fn(CommandEnvelope) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<ReplyOutcome>> + Send,
{
    async fn handle(&self, command: &CommandEnvelope) -> Result<ReplyOutcome> {
        self(command.clone()).await
    }
}
