//! Shared by the test binaries: the order saga and a participant harness that counts what
//! really executed.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_sagas::store::{InboxStore, SagaStore};
use keel_sagas::{
    ChannelTransport, CommandEnvelope, CommandSpec, Coordinator, CoordinatorConfig, Participant,
    Reply, ReplyOutcome, RetryPolicy, SagaDefinition, SagaInstance, SagaState, Step,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// reserve (compensated by release) → pay (compensated by refund) → ship.
pub fn order_saga(saga_type: &str) -> SagaDefinition {
    let copy = |d: &Value| d.clone();
    SagaDefinition::new(saga_type)
        .step(
            Step::new("reserve", CommandSpec::new("inventory", "Reserve", copy))
                .compensate_with(CommandSpec::new("inventory", "Release", copy))
                .timeout(Duration::from_secs(10))
                .retry(RetryPolicy::fixed(3, Duration::from_secs(2))),
        )
        .step(
            Step::new(
                "pay",
                CommandSpec::new(
                    "payment",
                    "Capture",
                    |d| json!({ "reservation": d["reservation"], "total_cents": d["total_cents"] }),
                ),
            )
            .compensate_with(CommandSpec::new("payment", "Refund", copy))
            .timeout(Duration::from_secs(10))
            .retry(RetryPolicy::fixed(3, Duration::from_secs(2))),
        )
        .step(
            Step::new("ship", CommandSpec::new("shipping", "Ship", copy))
                .timeout(Duration::from_secs(10))
                .retry(RetryPolicy::fixed(1, Duration::ZERO)),
        )
}

/// Counts executions per (participant, command type, saga id, step) and answers as told.
#[derive(Clone, Default)]
pub struct Executions {
    counts: Arc<Mutex<HashMap<String, u32>>>,
    /// Command types that fail (business failure).
    pub failing: Arc<Mutex<Vec<String>>>,
}

impl Executions {
    pub fn count(&self, command_type: &str, saga_id: &str) -> u32 {
        self.counts
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{command_type}/{saga_id}/")))
            .map(|(_, v)| *v)
            .sum()
    }

    pub fn max_per_command(&self) -> u32 {
        self.counts
            .lock()
            .unwrap()
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    pub fn fail(&self, command_type: &str) {
        self.failing.lock().unwrap().push(command_type.to_owned());
    }

    pub fn execute(&self, command: &CommandEnvelope) -> ReplyOutcome {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(format!(
                "{}/{}/{}",
                command.command_type, command.saga_id, command.step
            ))
            .or_default() += 1;
        if self.failing.lock().unwrap().contains(&command.command_type) {
            ReplyOutcome::failure(format!("{} refused", command.command_type))
        } else if command.command_type == "Reserve" {
            ReplyOutcome::Success {
                data: json!({ "reservation": format!("r-{}", command.saga_id) }),
            }
        } else {
            ReplyOutcome::success()
        }
    }
}

/// Connects the three participants to `transport`, each with an inbox in `inbox`, replying on
/// `replies`.
pub fn spawn_participants<I: InboxStore + Clone>(
    transport: &ChannelTransport,
    inbox: &I,
    executions: &Executions,
    replies: &mpsc::Sender<Reply>,
) {
    for name in ["inventory", "payment", "shipping"] {
        let commands = transport.connect(name, 64);
        let exec = executions.clone();
        let handler = move |command: CommandEnvelope| {
            let exec = exec.clone();
            async move { Ok(exec.execute(&command)) }
        };
        let participant = Arc::new(Participant::new(name, handler, inbox.clone()));
        tokio::spawn(participant.serve(commands, replies.clone()));
    }
}

/// A coordinator for `saga` over `store` with a fast tick.
pub fn coordinator<S: SagaStore>(
    store: S,
    transport: ChannelTransport,
    saga: SagaDefinition,
) -> Coordinator<S, ChannelTransport> {
    Coordinator::new(store, transport)
        .with_config(CoordinatorConfig::default().tick(Duration::from_millis(20)))
        .register(saga)
        .unwrap()
}

/// Waits until the saga reaches a final state.
pub async fn wait_final<S: SagaStore>(store: &S, saga_type: &str, saga_id: &str) -> SagaInstance {
    for _ in 0..500 {
        if let Some(saga) = store.load(saga_type, saga_id).await.unwrap()
            && !saga.state.is_active()
        {
            return saga;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("saga {saga_type} {saga_id} did not finish");
}

pub use keel_core::testing::unique;

pub fn assert_final(saga: &SagaInstance, state: SagaState) {
    assert_eq!(saga.state, state, "{saga:?}");
}

/// The handler every participant of the harness runs.
pub fn handler(
    exec: &Executions,
) -> impl Fn(CommandEnvelope) -> std::future::Ready<keel_sagas::Result<ReplyOutcome>>
+ Send
+ Sync
+ 'static {
    let exec = exec.clone();
    move |command: CommandEnvelope| std::future::ready(Ok(exec.execute(&command)))
}

/// Crash recovery: a coordinator is dropped after a participant executed a command but before
/// its reply was applied; a new coordinator over the same database resumes the saga, which then
/// completes (or, when `fail` names a command type, compensates) with no command executed twice.
pub async fn crash_mid_saga_then_resume<S, F, Fut>(open: F, fail: Option<&str>) -> SagaInstance
where
    S: SagaStore + InboxStore + Clone,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let saga_type = unique("durable", '-');
    let saga_id = unique("o", '-');
    let exec = Executions::default();
    if let Some(command_type) = fail {
        exec.fail(command_type);
    }

    // First life: reserve is applied; pay executes at the participant, then the coordinator dies.
    {
        let store = open().await;
        let transport = ChannelTransport::new();
        let mut inventory = transport.connect("inventory", 8);
        let mut payment = transport.connect("payment", 8);
        let first = coordinator(store.clone(), transport, order_saga(&saga_type));
        first
            .start(&saga_type, &saga_id, json!({ "total_cents": 4200 }))
            .await
            .unwrap();
        let reserve = inventory.recv().await.unwrap();
        let reply = Participant::new("inventory", handler(&exec), store.clone())
            .handle(&reserve)
            .await
            .unwrap();
        first.handle_reply(reply).await.unwrap();
        let pay = payment.recv().await.unwrap();
        let _lost = Participant::new("payment", handler(&exec), store.clone())
            .handle(&pay)
            .await
            .unwrap();
        drop(first);
    }

    // Second life: a new coordinator on the same database resumes.
    let store = open().await;
    let transport = ChannelTransport::new();
    let (reply_tx, reply_rx) = mpsc::channel(64);
    spawn_participants(&transport, &store, &exec, &reply_tx);
    let second = Arc::new(coordinator(
        store.clone(),
        transport,
        order_saga(&saga_type),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let second = Arc::clone(&second);
        tokio::spawn(async move {
            second
                .run(reply_rx, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let saga = wait_final(&store, &saga_type, &saga_id).await;
    let _ = stop_tx.send(());
    running.await.unwrap().unwrap();

    assert_eq!(exec.max_per_command(), 1, "a command executed twice");
    assert_eq!(exec.count("Reserve", &saga_id), 1);
    assert_eq!(exec.count("Capture", &saga_id), 1);
    assert_eq!(exec.count("Ship", &saga_id), 1);
    saga
}
