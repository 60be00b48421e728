//! The deployment under test: the saga, its topics, the coordinator with its reply consumers
//! and deadline loop, and the three participants with their command consumers.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_sagas::kafka::{KafkaSagaConfig, KafkaTransport, consume_replies, serve_participant};
use keel_sagas::store::PostgresSagaStore;
use keel_sagas::{
    CommandEnvelope, CommandSpec, Coordinator, MetricsSnapshot, Participant, ReplyOutcome,
    SagaDefinition, SagaState, Step,
};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::observed::{Finished, Observed};
use super::raw::{RawPipeline, RawWrites};
use crate::BenchError;

/// The saga type.
pub(crate) const SAGA: &str = "bench-order";
/// Its steps.
pub(crate) const STEPS: usize = 3;
/// The participants, in step order.
const PARTICIPANTS: [&str; STEPS] = ["inventory", "payment", "orders"];

/// The run's topic and group names.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    /// `<prefix><participant>` is a participant's command topic.
    pub(crate) command_prefix: String,
    /// The coordinator's reply topic.
    pub(crate) replies: String,
    /// The raw pipeline's command topic.
    pub(crate) raw_commands: String,
    /// The raw pipeline's reply topic.
    pub(crate) raw_replies: String,
    /// Consumer groups start with this.
    pub(crate) group: String,
}

impl Topics {
    /// The names of run `run`.
    pub(crate) fn new(run: &str) -> Self {
        let base = format!("keel-bench-{run}");
        Self {
            command_prefix: format!("{base}-cmd-"),
            replies: format!("{base}-replies"),
            raw_commands: format!("{base}-raw-cmd"),
            raw_replies: format!("{base}-raw-replies"),
            group: base,
        }
    }

    /// Every topic the run creates.
    pub(crate) fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = PARTICIPANTS
            .iter()
            .map(|p| format!("{}{p}", self.command_prefix))
            .collect();
        all.extend([
            self.replies.clone(),
            self.raw_commands.clone(),
            self.raw_replies.clone(),
        ]);
        all
    }

    /// Every consumer group of the run: the coordinator's, the participants', the raw ones.
    pub(crate) fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = PARTICIPANTS
            .iter()
            .map(|p| format!("{}-{p}", self.group))
            .collect();
        for g in ["coordinator", "raw-participant", "raw-coordinator"] {
            groups.push(format!("{}-{g}", self.group));
        }
        groups
    }

    /// Every topic, and the dead-letter topics the consumers may have created.
    pub(crate) fn with_dead_letters(&self) -> Vec<String> {
        let all = self.all();
        let dlq = all.iter().map(|t| format!("{t}.dlq"));
        all.iter().cloned().chain(dlq).collect()
    }
}

/// Reserve, pay, confirm; the first two compensated in reverse when a later one refuses.
fn definition() -> SagaDefinition {
    let same = |d: &Value| d.clone();
    SagaDefinition::new(SAGA)
        .step(
            Step::new(
                "reserve",
                CommandSpec::new("inventory", "ReserveInventory", same),
            )
            .compensate_with(CommandSpec::new("inventory", "ReleaseInventory", same)),
        )
        .step(
            Step::new("pay", CommandSpec::new("payment", "CapturePayment", same))
                .compensate_with(CommandSpec::new("payment", "RefundPayment", same)),
        )
        .step(Step::new(
            "confirm",
            CommandSpec::new("orders", "ConfirmOrder", same),
        ))
}

/// The participants' business logic: everything succeeds, except a confirmation of a saga
/// whose data says `"fail": true`.
async fn handle(command: CommandEnvelope) -> keel_sagas::Result<ReplyOutcome> {
    if command.command_type == "ConfirmOrder" && command.payload["fail"] == Value::Bool(true) {
        return Ok(ReplyOutcome::failure(
            "bench: the order cannot be confirmed",
        ));
    }
    Ok(ReplyOutcome::success())
}

type Bench = Coordinator<Observed<PostgresSagaStore>, KafkaTransport>;

/// The running deployment and the channel its sagas' ends arrive on.
pub(crate) struct Deployment {
    coordinator: Arc<Bench>,
    /// Where ends are sent.
    pub(crate) finished_tx: mpsc::UnboundedSender<Finished>,
    /// The shutdown signal's receiver, for tasks started later.
    pub(crate) stop: watch::Receiver<bool>,
    stop_tx: watch::Sender<bool>,
    /// A pool for the raw baselines (as large as the saga store's).
    pub(crate) raw_pool: PgPool,
    /// The raw pipelines started, stopped with the rest.
    pub(crate) raw_pipelines: Vec<Arc<RawPipeline>>,
    tasks: Vec<JoinHandle<()>>,
    store: PostgresSagaStore,
}

/// Completes when `stop` says so.
async fn until(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

impl Deployment {
    /// Connects the stores (one pool for the coordinator, one for the participants, as two
    /// services would have) and starts the consumers: `consumers` per group. Returns it with
    /// the channel the ends of sagas (keel's and the raw pipeline's) arrive on.
    pub(crate) async fn start(
        db_url: &str,
        brokers: &str,
        topics: &Topics,
        consumers: usize,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Finished>), BenchError> {
        let (finished_tx, finished) = mpsc::unbounded_channel();
        let (stop_tx, stop) = watch::channel(false);
        let store = PostgresSagaStore::connect(db_url).await?;
        let inbox = PostgresSagaStore::connect(db_url).await?;
        let raw_pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(db_url)
            .await?;
        let config = KafkaSagaConfig::new(brokers, &topics.command_prefix, &topics.replies);
        let coordinator = Arc::new(
            Coordinator::new(
                Observed::new(store.clone(), finished_tx.clone()),
                KafkaTransport::new(config.clone())?,
            )
            .register(definition())?,
        );
        let mut tasks = Vec::new();
        let coordinator_group = format!("{}-coordinator", topics.group);
        for _ in 0..consumers {
            let (c, config, group) = (
                Arc::clone(&coordinator),
                config.clone(),
                coordinator_group.clone(),
            );
            let shutdown = until(stop.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = consume_replies(c, &config, &group, shutdown).await {
                    eprintln!("sagas: reply consumer stopped: {e}");
                }
            }));
        }
        {
            let (c, shutdown) = (Arc::clone(&coordinator), until(stop.clone()));
            tasks.push(tokio::spawn(async move {
                if let Err(e) = c.run_deadlines(shutdown).await {
                    eprintln!("sagas: deadline loop stopped: {e}");
                }
            }));
        }
        for name in PARTICIPANTS {
            let participant = Arc::new(Participant::new(name, handle, inbox.clone()));
            let group = format!("{}-{name}", topics.group);
            for _ in 0..consumers {
                let (p, config, group) = (Arc::clone(&participant), config.clone(), group.clone());
                let shutdown = until(stop.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = serve_participant(p, &config, &group, shutdown).await {
                        eprintln!("sagas: participant consumer stopped: {e}");
                    }
                }));
            }
        }
        let deployment = Self {
            coordinator,
            finished_tx,
            stop,
            stop_tx,
            raw_pool,
            raw_pipelines: Vec::new(),
            tasks,
            store,
        };
        Ok((deployment, finished))
    }

    /// Starts a saga with `data` under the given id.
    pub(crate) fn starter(
        &self,
        data: Value,
    ) -> impl Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BenchError>> + Send>>
    + Send
    + Sync
    + 'static {
        let coordinator = Arc::clone(&self.coordinator);
        move |id: String| {
            let (coordinator, data) = (Arc::clone(&coordinator), data.clone());
            Box::pin(async move {
                coordinator.start(SAGA, &id, data).await?;
                Ok(())
            })
        }
    }

    /// Does a raw saga's writes (with `compensations` compensations) and reports its end.
    pub(crate) fn raw_writer(
        &self,
        writes: &Arc<RawWrites>,
        compensations: usize,
    ) -> impl Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BenchError>> + Send>>
    + Send
    + Sync
    + 'static {
        let (writes, finished) = (Arc::clone(writes), self.finished_tx.clone());
        move |id: String| {
            let (writes, finished) = (Arc::clone(&writes), finished.clone());
            Box::pin(async move {
                writes.saga(&id, STEPS, compensations).await?;
                let state = if compensations == 0 {
                    SagaState::Completed
                } else {
                    SagaState::Compensated
                };
                let _ = finished.send(Finished {
                    saga_id: id,
                    state,
                    at: Instant::now(),
                });
                Ok(())
            })
        }
    }

    /// The body of a completed instance as stored: what the raw writes write.
    pub(crate) async fn stored_body(&self) -> Result<String, BenchError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body::text FROM keel_saga_instances WHERE state = 'completed' LIMIT 1",
        )
        .fetch_optional(self.store.pool())
        .await?;
        Ok(body.ok_or("no completed saga is stored")?)
    }

    /// The coordinator's counters.
    pub(crate) fn metrics(&self) -> MetricsSnapshot {
        self.coordinator.metrics()
    }

    /// Stops every consumer (they commit and leave their groups) and closes the pools.
    pub(crate) async fn stop(self) {
        let _ = self.stop_tx.send(true);
        let wait = async {
            for task in self.tasks {
                let _ = task.await;
            }
            for pipeline in self.raw_pipelines {
                if let Ok(pipeline) = Arc::try_unwrap(pipeline) {
                    pipeline.join().await;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_err()
        {
            eprintln!("sagas: consumers did not stop within 30 s; going on with the cleanup");
        }
        self.raw_pool.close().await;
        self.store.pool().close().await;
    }
}
