//! Several projections in one process, each with its own checkpoint.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use keel_core::EventStore;
use keel_core::store::CheckpointStore;

use crate::Result;
use crate::projection::Projection;
use crate::runner::{Lag, ProjectionRunner};

/// What [`ProjectionSet`] needs of a runner, whatever its store and projection types.
#[async_trait]
pub trait RunProjection: Send + Sync {
    /// The projection's name.
    fn name(&self) -> &str;
    /// How far it is behind.
    async fn lag(&self) -> Result<Lag>;
    /// Runs it until `shutdown` completes.
    async fn run_until(&self, shutdown: BoxFuture<'static, ()>) -> Result<()>;
}

#[async_trait]
impl<S: EventStore + CheckpointStore, P: Projection> RunProjection for ProjectionRunner<S, P> {
    fn name(&self) -> &str {
        ProjectionRunner::name(self)
    }

    async fn lag(&self) -> Result<Lag> {
        ProjectionRunner::lag(self).await
    }

    async fn run_until(&self, shutdown: BoxFuture<'static, ()>) -> Result<()> {
        self.run(shutdown).await
    }
}

/// Runs several projections concurrently; each keeps its own checkpoint and its own retries, so
/// one sink being down holds back only the projections writing to it.
#[derive(Default, Clone)]
pub struct ProjectionSet {
    runners: Vec<Arc<dyn RunProjection>>,
}

impl std::fmt::Debug for ProjectionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.runners.iter().map(|r| r.name()))
            .finish()
    }
}

impl ProjectionSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a runner.
    #[must_use]
    pub fn with(mut self, runner: impl RunProjection + 'static) -> Self {
        self.runners.push(Arc::new(runner));
        self
    }

    /// Each projection's name and lag, in the order they were added.
    pub async fn lags(&self) -> Result<Vec<(String, Lag)>> {
        let mut lags = Vec::with_capacity(self.runners.len());
        for runner in &self.runners {
            lags.push((runner.name().to_owned(), runner.lag().await?));
        }
        Ok(lags)
    }

    /// Runs every projection until `shutdown` completes. A projection that fails for good stops
    /// alone; the others go on, and the first failure is returned once all stopped.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let shutdown = shutdown.boxed().shared();
        let runs = self.runners.iter().map(|runner| {
            let shutdown = shutdown.clone();
            async move {
                let result = runner.run_until(shutdown.boxed()).await;
                if let Err(error) = &result {
                    tracing::error!(projection = runner.name(), %error, "Projection stopped.");
                }
                result
            }
        });
        futures::future::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()
            .map(|_| ())
    }
}
