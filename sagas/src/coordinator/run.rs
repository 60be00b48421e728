//! The coordinator's loop: replies as they arrive, deadlines on every tick.

use std::future::Future;

use tokio::sync::mpsc;

use super::Coordinator;
use crate::Result;
use crate::message::Reply;
use crate::store::SagaStore;
use crate::transport::Transport;

impl<S: SagaStore, T: Transport> Coordinator<S, T> {
    /// Resumes the instances in flight, then applies replies from `replies` and fires due
    /// deadlines every [`tick`](super::CoordinatorConfig::tick) until `shutdown` completes or
    /// the reply channel closes. Errors on single replies or ticks are logged and the loop
    /// goes on (their instances stay stored, so a later tick or restart picks them up).
    pub async fn run(
        &self,
        mut replies: mpsc::Receiver<Reply>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        self.resume().await?;
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                reply = replies.recv() => {
                    let Some(reply) = reply else { return Ok(()) };
                    if let Err(error) = self.handle_reply(reply).await {
                        tracing::warn!(%error, "applying a reply failed");
                    }
                }
                _ = tick.tick() => {
                    if let Err(error) = self.fire_due().await {
                        tracing::warn!(%error, "firing due deadlines failed");
                    }
                }
            }
        }
    }
}

impl<S: SagaStore, T: Transport> Coordinator<S, T> {
    /// Resumes the instances in flight, then fires due deadlines every
    /// [`tick`](super::CoordinatorConfig::tick) until `shutdown` completes; for transports
    /// whose replies arrive elsewhere (e.g. `kafka::consume_replies`).
    pub async fn run_deadlines(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.resume().await?;
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                _ = tick.tick() => {
                    if let Err(error) = self.fire_due().await {
                        tracing::warn!(%error, "firing due deadlines failed");
                    }
                }
            }
        }
    }
}
