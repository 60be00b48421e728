//! Deadlines and restarts: firing the deadlines that passed, and resuming the instances in
//! flight. Different instances are independent, so their writes and sends run concurrently
//! (up to [`CONCURRENCY`] at once) instead of each waiting for the previous one's broker
//! acknowledgement.

use futures::StreamExt;

use super::Coordinator;
use crate::instance::Awaiting;
use crate::machine;
use crate::store::SagaStore;
use crate::transport::Transport;
use crate::{Error, Result};

/// Instances handled at the same time by one `fire_due` or `resume`.
const CONCURRENCY: usize = 64;

impl<S: SagaStore, T: Transport> Coordinator<S, T> {
    /// Handles every deadline that passed: resends after a backoff, retries after a timeout,
    /// or starts compensation when the tries are used up. Returns how many fired; on failures,
    /// the first error after every due instance was tried.
    pub async fn fire_due(&self) -> Result<usize> {
        let mut fired = 0;
        let mut first_error = None;
        for (saga_type, def) in &self.sagas {
            let now = self.clock.now();
            let due = self
                .store
                .due(saga_type, now, self.config.due_batch)
                .await?;
            let mut results = futures::stream::iter(due)
                .map(|instance| {
                    let transition = machine::on_deadline(
                        def,
                        instance,
                        now,
                        self.config.max_compensation_attempts,
                    );
                    self.commit(transition)
                })
                .buffer_unordered(CONCURRENCY);
            while let Some(result) = results.next().await {
                match result {
                    // Someone else moved it on (e.g. a reply): its deadline is no longer ours.
                    Err(Error::Conflict { .. }) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                    Ok(_) => fired += 1,
                }
            }
        }
        first_error.map_or(Ok(fired), Err)
    }

    /// Resumes every in-flight instance of the registered types after a (re)start: re-sends
    /// the command each one waits a reply for (same command id, so participants deduplicate
    /// it), then fires the deadlines that passed while the coordinator was down. Returns how
    /// many instances were in flight.
    pub async fn resume(&self) -> Result<usize> {
        let mut in_flight = 0;
        for (saga_type, def) in &self.sagas {
            let instances = self.store.in_flight(saga_type).await?;
            in_flight += instances.len();
            let now = self.clock.now();
            // A passed deadline is fire_due's: it retries with the next attempt.
            let resend = instances.into_iter().filter_map(|instance| {
                let waiting = instance.awaiting == Awaiting::Reply
                    && instance.deadline.is_some_and(|d| d > now);
                let command = machine::current_command(def, &instance).filter(|_| waiting)?;
                Some((instance, command))
            });
            let mut sent = futures::stream::iter(resend)
                .map(|(instance, command)| async move {
                    tracing::info!(saga_type = %saga_type, saga_id = %instance.saga_id, step = instance.current_step, attempt = instance.attempt, "resuming saga");
                    self.dispatch(&instance, command).await
                })
                .buffer_unordered(CONCURRENCY);
            while let Some(result) = sent.next().await {
                result?;
            }
        }
        self.fire_due().await?;
        Ok(in_flight)
    }
}
