//! The orchestrator: starts saga instances, applies replies and deadlines, persists every
//! transition before it sends the next command, and resumes in-flight instances on start.

mod cache;
mod config;
mod recovery;
mod run;

pub use config::CoordinatorConfig;

use std::collections::HashMap;
use std::sync::Arc;

use keel_core::Metadata;
use serde_json::Value;
use tracing::Instrument;

use crate::clock::{Clock, SystemClock};
use crate::definition::SagaDefinition;
use crate::instance::{SagaInstance, SagaState};
use crate::machine::{self, Mismatch, Transition};
use crate::message::{CommandEnvelope, CommandKind, Reply};
use crate::metrics::{MetricsSnapshot, SagaMetrics};
use crate::saga::Saga;
use crate::store::{DeadLetter, SagaStore};
use crate::telemetry;
use crate::transport::Transport;
use crate::{Error, Result};
use cache::InstanceCache;

/// How often a transition is decided again after losing an optimistic-concurrency race.
const CONFLICT_RETRIES: usize = 8;

/// What became of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyDisposition {
    /// It moved the saga on; the saga is now in this state.
    Applied(SagaState),
    /// A duplicate or late reply, ignored (and logged).
    Ignored,
    /// No such saga: it went to the dead-letter table.
    DeadLettered,
}

/// Runs sagas of the registered types over a [`SagaStore`] and a [`Transport`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_sagas::{ChannelTransport, CommandSpec, Coordinator, SagaDefinition, SagaState, Step};
/// use keel_sagas::store::MemorySagaStore;
///
/// let transport = ChannelTransport::new();
/// let mut inventory = transport.connect("inventory", 8);
/// let saga = SagaDefinition::new("order")
///     .step(Step::new("reserve", CommandSpec::new("inventory", "Reserve", |d| d.clone())));
/// let coordinator = Coordinator::new(MemorySagaStore::new(), transport).register(saga)?;
///
/// coordinator.start("order", "o-1", serde_json::json!({"sku": "A"})).await?;
/// let command = inventory.recv().await.expect("a command");
/// assert_eq!(command.command_type, "Reserve");
/// coordinator.handle_reply(command.reply(keel_sagas::ReplyOutcome::success())).await?;
/// let saga = coordinator.instance("order", "o-1").await?.expect("stored");
/// assert_eq!(saga.state, SagaState::Completed);
/// # Ok::<(), keel_sagas::Error>(())
/// # }).unwrap();
/// ```
pub struct Coordinator<S, T> {
    store: S,
    transport: T,
    clock: Arc<dyn Clock>,
    sagas: HashMap<String, Arc<SagaDefinition>>,
    metrics: Arc<SagaMetrics>,
    config: CoordinatorConfig,
    cache: InstanceCache,
}

impl<S, T> std::fmt::Debug for Coordinator<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("sagas", &self.sagas.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: SagaStore, T: Transport> Coordinator<S, T> {
    /// A coordinator with no saga types, the system clock and the default config.
    pub fn new(store: S, transport: T) -> Self {
        Self {
            store,
            transport,
            clock: Arc::new(SystemClock),
            sagas: HashMap::new(),
            metrics: Arc::default(),
            cache: InstanceCache::new(CoordinatorConfig::default().cached_instances),
            config: CoordinatorConfig::default(),
        }
    }

    /// Registers a saga type (validated first).
    pub fn register(mut self, definition: SagaDefinition) -> Result<Self> {
        let definition = definition.validate()?;
        self.sagas
            .insert(definition.saga_type().to_owned(), Arc::new(definition));
        Ok(self)
    }

    /// Uses `clock` for deadlines (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `config`.
    pub fn with_config(mut self, config: CoordinatorConfig) -> Self {
        self.cache = InstanceCache::new(config.cached_instances);
        self.config = config;
        self
    }

    /// The counters, including `parked`, the error metric to alert on.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The stored instance.
    pub async fn instance(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaInstance>> {
        self.store.load(saga_type, saga_id).await
    }

    fn definition(&self, saga_type: &str) -> Result<&Arc<SagaDefinition>> {
        self.sagas
            .get(saga_type)
            .ok_or_else(|| Error::UnknownSagaType {
                saga_type: saga_type.to_owned(),
            })
    }

    /// Starts a saga instance with `data`: stores it, then sends its first command.
    pub async fn start(&self, saga_type: &str, saga_id: &str, data: Value) -> Result<SagaInstance> {
        self.start_from(saga_type, saga_id, data, &Metadata::default())
            .await
    }

    /// [`Coordinator::start`] for a saga triggered by an event: the saga's root span joins the
    /// trace carried by the event's `metadata`.
    pub async fn start_from(
        &self,
        saga_type: &str,
        saga_id: &str,
        data: Value,
        trigger: &Metadata,
    ) -> Result<SagaInstance> {
        let def = Arc::clone(self.definition(saga_type)?);
        let root = tracing::info_span!("keel.saga", saga_type = %saga_type, saga_id = %saga_id);
        keel_core::telemetry::set_parent_from_metadata(&root, trigger);
        let Transition {
            mut instance,
            command,
            ..
        } = machine::begin(&def, saga_id, data, self.clock.now());
        instance.trace = telemetry::headers_of(&root);
        async {
            self.store.insert(&instance).await?;
            self.cache.stored(&instance);
            self.metrics.started();
            tracing::info!(steps = def.steps().len(), "saga started");
            Ok::<_, Error>(())
        }
        .instrument(root)
        .await?;
        if let Some(command) = command {
            self.dispatch(&instance, command).await?;
        }
        Ok(instance)
    }

    /// [`Coordinator::start_from`] for a typed saga: its type is `D::SAGA_TYPE` and its data
    /// `data` as JSON. Register `D::definition()` first.
    pub async fn start_saga<D: Saga>(
        &self,
        saga_id: &str,
        data: &D,
        trigger: &Metadata,
    ) -> Result<SagaInstance> {
        let data = serde_json::to_value(data).map_err(|source| Error::Serialize {
            what: format!("the data of saga `{}` `{saga_id}`", D::SAGA_TYPE),
            source,
        })?;
        self.start_from(D::SAGA_TYPE, saga_id, data, trigger).await
    }

    /// Applies a participant's reply. Duplicate and late replies are ignored with a log line;
    /// a reply for an unknown saga goes to the dead-letter table with its reason.
    pub async fn handle_reply(&self, reply: Reply) -> Result<ReplyDisposition> {
        let Some(def) = self.sagas.get(&reply.saga_type).cloned() else {
            return self.dead_letter(reply, "unknown saga type").await;
        };
        let (saga_type, saga_id) = (reply.saga_type.as_str(), reply.saga_id.as_str());
        for _ in 0..CONFLICT_RETRIES {
            let (instance, cached) = match self.cache.get(saga_type, saga_id) {
                Some(instance) => (instance, true),
                None => match self.store.load(saga_type, saga_id).await? {
                    Some(instance) => (instance, false),
                    None => return self.dead_letter(reply, "unknown saga").await,
                },
            };
            if let Err(mismatch) = machine::matches(&instance, &reply) {
                if cached {
                    // Maybe another coordinator moved it on: ask the store before ignoring.
                    self.cache.forget(saga_type, saga_id);
                    continue;
                }
                self.metrics.reply_ignored();
                tracing::info!(
                    saga_type = %reply.saga_type,
                    saga_id = %reply.saga_id,
                    step = reply.step,
                    attempt = reply.attempt,
                    kind = %reply.kind,
                    command_id = %reply.command_id,
                    saga_state = %instance.state,
                    current_step = instance.current_step,
                    reason = if mismatch == Mismatch::Finished { "saga finished" } else { "not the command in flight" },
                    "duplicate or late reply ignored"
                );
                return Ok(ReplyDisposition::Ignored);
            }
            let transition = machine::on_reply(
                &def,
                instance,
                reply.outcome.clone(),
                self.clock.now(),
                self.config.max_compensation_attempts,
            );
            match self.commit(transition).await {
                Err(Error::Conflict { .. }) => {
                    self.cache.forget(saga_type, saga_id);
                    continue;
                }
                Err(e) => return Err(e),
                Ok(state) => return Ok(ReplyDisposition::Applied(state)),
            }
        }
        Err(Error::Conflict {
            saga_type: reply.saga_type,
            saga_id: reply.saga_id,
            expected: 0,
        })
    }

    /// Persists a transition, then sends its command; returns the new state.
    pub(super) async fn commit(&self, transition: Transition) -> Result<SagaState> {
        let Transition {
            instance,
            command,
            parked,
        } = transition;
        self.store.update(&instance).await?;
        self.cache.stored(&instance);
        self.record_outcome(&instance, parked);
        if let Some(command) = command {
            self.dispatch(&instance, command).await?;
        }
        Ok(instance.state)
    }

    fn record_outcome(&self, instance: &SagaInstance, parked: bool) {
        let (saga_type, saga_id) = (&instance.saga_type, &instance.saga_id);
        match instance.state {
            SagaState::Completed => {
                self.metrics.completed();
                tracing::info!(%saga_type, %saga_id, "saga completed");
            }
            SagaState::Compensated => {
                self.metrics.compensated();
                tracing::info!(%saga_type, %saga_id, failure = instance.failure.as_deref().unwrap_or(""), "saga compensated");
            }
            SagaState::Parked if parked => {
                self.metrics.parked();
                tracing::error!(%saga_type, %saga_id, step = instance.current_step, reason = instance.failure.as_deref().unwrap_or(""), "saga parked: a compensation keeps failing");
            }
            _ => {}
        }
    }

    /// Sends one command under a span that is a child of the saga's root span.
    pub(super) async fn dispatch(
        &self,
        instance: &SagaInstance,
        mut command: CommandEnvelope,
    ) -> Result<()> {
        let span = match command.kind {
            CommandKind::Action => tracing::info_span!(
                "keel.saga.step",
                saga_type = %command.saga_type,
                saga_id = %command.saga_id,
                step = command.step,
                step_name = %command.step_name,
                attempt = command.attempt,
                command_id = %command.command_id,
                participant = %command.participant,
            ),
            CommandKind::Compensation => tracing::info_span!(
                "keel.saga.compensation",
                saga_type = %command.saga_type,
                saga_id = %command.saga_id,
                step = command.step,
                step_name = %command.step_name,
                attempt = command.attempt,
                command_id = %command.command_id,
                participant = %command.participant,
            ),
        };
        telemetry::set_parent(&span, &instance.trace);
        command.headers = telemetry::headers_of(&span);
        async {
            tracing::debug!(command_type = %command.command_type, "sending command");
            self.transport.send(command).await?;
            self.metrics.command_sent();
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn dead_letter(&self, reply: Reply, reason: &str) -> Result<ReplyDisposition> {
        tracing::warn!(
            saga_type = %reply.saga_type,
            saga_id = %reply.saga_id,
            command_id = %reply.command_id,
            reason,
            "reply dead-lettered"
        );
        self.store
            .dead_letter(&DeadLetter {
                reply,
                reason: reason.to_owned(),
                at: self.clock.now(),
            })
            .await?;
        self.metrics.dead_lettered();
        Ok(ReplyDisposition::DeadLettered)
    }
}
