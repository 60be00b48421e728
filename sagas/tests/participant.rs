//! The participant side: at most once per command through the inbox, transactional handling on
//! SQLite, and a whole saga over in-process channels in real time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{
    Executions, coordinator, handler, order_saga, spawn_participants, unique, wait_final,
};
use keel_sagas::store::{InboxStore, MemorySagaStore};
use keel_sagas::{
    CommandEnvelope, CommandKind, Error, Participant, ReplyOutcome, SagaState,
    TransactionalHandler,
    message::{command_id, idempotency_key},
};
use serde_json::json;
use tokio::sync::mpsc;

fn command(saga_id: &str, attempt: u32) -> CommandEnvelope {
    CommandEnvelope {
        command_id: command_id("order", saga_id, 0, attempt, CommandKind::Action),
        idempotency_key: idempotency_key("order", saga_id, 0, CommandKind::Action),
        saga_type: "order".into(),
        saga_id: saga_id.into(),
        step: 0,
        step_name: "reserve".into(),
        attempt,
        kind: CommandKind::Action,
        participant: "inventory".into(),
        command_type: "Reserve".into(),
        payload: json!({}),
        headers: Default::default(),
    }
}

#[tokio::test]
async fn a_resent_command_is_answered_from_the_inbox_not_handled_again() {
    let exec = Executions::default();
    let inbox = MemorySagaStore::new();
    let participant = Participant::new("inventory", handler(&exec), inbox.clone());
    let first = participant.handle(&command("o-1", 1)).await.unwrap();
    let again = participant.handle(&command("o-1", 1)).await.unwrap();
    let retry = participant.handle(&command("o-1", 2)).await.unwrap();
    assert_eq!(exec.count("Reserve", "o-1"), 1);
    assert_eq!(first.outcome, again.outcome);
    assert_eq!(retry.outcome, first.outcome);
    assert_eq!(
        retry.attempt, 2,
        "the reply answers the try it was asked by"
    );
    assert!(
        inbox
            .recorded("inventory", &command("o-1", 1).idempotency_key)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_infrastructure_error_records_nothing_so_a_redelivery_runs_again() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let flaky = move |_command: CommandEnvelope| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err(Error::Handler {
                    participant: "inventory".into(),
                    reason: "database unreachable".into(),
                })
            } else {
                Ok(ReplyOutcome::success())
            }
        }
    };
    let participant = Participant::new("inventory", flaky, MemorySagaStore::new());
    assert!(participant.handle(&command("o-2", 1)).await.is_err());
    assert!(participant.handle(&command("o-2", 1)).await.is_ok());
    assert!(participant.handle(&command("o-2", 1)).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[cfg(feature = "sqlite")]
struct Reserve;

#[cfg(feature = "sqlite")]
#[async_trait]
impl TransactionalHandler<sqlx::SqliteConnection> for Reserve {
    async fn handle(
        &self,
        conn: &mut sqlx::SqliteConnection,
        command: &CommandEnvelope,
    ) -> keel_sagas::Result<ReplyOutcome> {
        sqlx::query("INSERT INTO reservations (saga_id) VALUES (?1)")
            .bind(&command.saga_id)
            .execute(&mut *conn)
            .await?;
        if command.saga_id == "doomed" {
            return Err(Error::Handler {
                participant: "inventory".into(),
                reason: "after the write".into(),
            });
        }
        Ok(ReplyOutcome::success())
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_handle_once_commits_the_effect_and_the_inbox_row_together() {
    let store = keel_sagas::store::SqliteSagaStore::connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE reservations (saga_id TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    for _ in 0..3 {
        let outcome = store
            .handle_once("inventory", &command("o-3", 1), &Reserve)
            .await
            .unwrap();
        assert_eq!(outcome, ReplyOutcome::success());
    }
    assert!(
        store
            .handle_once("inventory", &command("doomed", 1), &Reserve)
            .await
            .is_err()
    );
    let rows: Vec<String> = sqlx::query_scalar("SELECT saga_id FROM reservations")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, ["o-3"], "one effect, and none of the failed handler");
    let doomed = command("doomed", 1).idempotency_key;
    assert_eq!(store.recorded("inventory", &doomed).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saga_runs_over_channels_and_compensates_a_refused_payment() {
    let saga_type = unique("channels", '-');
    let store = MemorySagaStore::new();
    let exec = Executions::default();
    exec.fail("Capture");
    let transport = keel_sagas::ChannelTransport::new();
    let (reply_tx, reply_rx) = mpsc::channel(64);
    spawn_participants(&transport, &store, &exec, &reply_tx);
    let coordinator = Arc::new(coordinator(
        store.clone(),
        transport,
        order_saga(&saga_type),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let coordinator = Arc::clone(&coordinator);
        tokio::spawn(async move {
            coordinator
                .run(reply_rx, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    for n in 0..5 {
        coordinator
            .start(&saga_type, &format!("o-{n}"), json!({ "total_cents": n }))
            .await
            .unwrap();
    }
    for n in 0..5 {
        let saga = wait_final(&store, &saga_type, &format!("o-{n}")).await;
        assert_eq!(saga.state, SagaState::Compensated);
        assert_eq!(exec.count("Release", &format!("o-{n}")), 1);
        assert_eq!(exec.count("Ship", &format!("o-{n}")), 0);
    }
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let metrics = coordinator.metrics();
    assert_eq!((metrics.started, metrics.compensated), (5, 5));
}
