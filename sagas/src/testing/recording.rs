//! A transport that keeps what it is given.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::Result;
use crate::message::CommandEnvelope;
use crate::transport::Transport;

/// Records every command sent; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingTransport {
    sent: Arc<Mutex<Vec<CommandEnvelope>>>,
}

impl RecordingTransport {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every command sent so far, in order.
    pub fn sent(&self) -> Vec<CommandEnvelope> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Transport for RecordingTransport {
    async fn send(&self, command: CommandEnvelope) -> Result<()> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(command);
        Ok(())
    }
}
