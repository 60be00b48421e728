//! In-process channels: the embedded default and what tests use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::Transport;
use crate::message::CommandEnvelope;
use crate::{Error, Result};

/// Sends commands over Tokio channels, one per participant; clones share the routes.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_sagas::ChannelTransport;
///
/// let transport = ChannelTransport::new();
/// let mut inventory = transport.connect("inventory", 64);
/// # drop(inventory.try_recv());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChannelTransport {
    routes: Arc<Mutex<HashMap<String, mpsc::Sender<CommandEnvelope>>>>,
}

impl ChannelTransport {
    /// A transport with no participants connected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects participant `name`: commands addressed to it arrive on the returned receiver
    /// (holding up to `capacity` before senders wait). Connecting again replaces the route.
    pub fn connect(&self, name: &str, capacity: usize) -> mpsc::Receiver<CommandEnvelope> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), tx);
        rx
    }
}

#[async_trait]
impl Transport for ChannelTransport {
    async fn send(&self, command: CommandEnvelope) -> Result<()> {
        let route = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&command.participant)
            .cloned();
        let participant = command.participant.clone();
        let Some(route) = route else {
            return Err(Error::Transport {
                participant,
                reason: "no participant with this name is connected".into(),
            });
        };
        route.send(command).await.map_err(|_| Error::Transport {
            participant,
            reason: "the participant's channel is closed".into(),
        })
    }
}
