//! How commands reach participants: the [`Transport`] trait and its in-process implementation.

mod channel;

pub use channel::ChannelTransport;

use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::message::CommandEnvelope;

/// Delivers commands to participants. Replies come back through whatever feeds
/// [`Coordinator::handle_reply`](crate::Coordinator::handle_reply) (e.g. [`Coordinator::run`](crate::Coordinator::run)).
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Hands `command` to the participant it names. Returning `Ok` means the transport took it;
    /// delivery may still fail, which the saga's timeout covers.
    async fn send(&self, command: CommandEnvelope) -> Result<()>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, command: CommandEnvelope) -> Result<()> {
        (**self).send(command).await
    }
}
