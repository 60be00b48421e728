//! A saga store that reports when an instance reaches its end: the coordinator's own
//! PostgreSQL store, wrapped, so that the benchmark sees a saga finish at the moment its last
//! transition is durable, without polling.

use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keel_sagas::store::{DeadLetter, SagaStore};
use keel_sagas::{SagaInstance, SagaState};
use tokio::sync::mpsc;

/// A saga that reached an end state, and when its last write returned.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The saga's id.
    pub(crate) saga_id: String,
    /// `Completed`, `Compensated` or `Parked`.
    pub(crate) state: SagaState,
    /// When the update that finished it returned.
    pub(crate) at: Instant,
}

/// `S` with a channel that hears of every saga reaching an end state.
#[derive(Debug, Clone)]
pub(crate) struct Observed<S> {
    inner: S,
    finished: mpsc::UnboundedSender<Finished>,
}

impl<S> Observed<S> {
    /// Wraps `inner`; finished sagas are sent to `finished`.
    pub(crate) fn new(inner: S, finished: mpsc::UnboundedSender<Finished>) -> Self {
        Self { inner, finished }
    }
}

#[async_trait]
impl<S: SagaStore> SagaStore for Observed<S> {
    async fn insert(&self, instance: &SagaInstance) -> keel_sagas::Result<()> {
        self.inner.insert(instance).await
    }

    async fn update(&self, instance: &SagaInstance) -> keel_sagas::Result<()> {
        self.inner.update(instance).await?;
        if matches!(
            instance.state,
            SagaState::Completed | SagaState::Compensated | SagaState::Parked
        ) {
            // The receiver is gone only when the benchmark is over.
            let _ = self.finished.send(Finished {
                saga_id: instance.saga_id.clone(),
                state: instance.state,
                at: Instant::now(),
            });
        }
        Ok(())
    }

    async fn load(
        &self,
        saga_type: &str,
        saga_id: &str,
    ) -> keel_sagas::Result<Option<SagaInstance>> {
        self.inner.load(saga_type, saga_id).await
    }

    async fn in_flight(&self, saga_type: &str) -> keel_sagas::Result<Vec<SagaInstance>> {
        self.inner.in_flight(saga_type).await
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> keel_sagas::Result<Vec<SagaInstance>> {
        self.inner.due(saga_type, now, limit).await
    }

    async fn parked(&self, saga_type: &str) -> keel_sagas::Result<Vec<SagaInstance>> {
        self.inner.parked(saga_type).await
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> keel_sagas::Result<()> {
        self.inner.dead_letter(letter).await
    }

    async fn dead_letters(&self, saga_id: &str) -> keel_sagas::Result<Vec<DeadLetter>> {
        self.inner.dead_letters(saga_id).await
    }
}
