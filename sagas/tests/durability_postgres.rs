//! Crash recovery on the PostgreSQL of the local stack (`make up`): a coordinator dropped
//! mid-saga and a new one on the same database completes or compensates every step once.
#![cfg(feature = "integration")]

mod common;

use common::{assert_final, crash_mid_saga_then_resume};
use keel_sagas::SagaState;
use keel_sagas::store::PostgresSagaStore;

async fn store() -> PostgresSagaStore {
    let url = keel_core::testing::stack::postgres().require().url;
    PostgresSagaStore::connect(&url)
        .await
        .expect("connect to PostgreSQL")
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_resumed_saga_completes_without_repeating_a_step() {
    let saga = crash_mid_saga_then_resume(store, None).await;
    assert_final(&saga, SagaState::Completed);
    assert_eq!(saga.completed_steps, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_resumed_saga_compensates_in_reverse_without_repeating_a_step() {
    let saga = crash_mid_saga_then_resume(store, Some("Ship")).await;
    assert_final(&saga, SagaState::Compensated);
    assert_eq!(saga.compensated_steps, vec![1, 0]);
    assert!(saga.failure.unwrap().contains("Ship refused"));
}

struct Reserve;

#[async_trait::async_trait]
impl keel_sagas::TransactionalHandler<sqlx::PgConnection> for Reserve {
    async fn handle(
        &self,
        conn: &mut sqlx::PgConnection,
        command: &keel_sagas::CommandEnvelope,
    ) -> keel_sagas::Result<keel_sagas::ReplyOutcome> {
        sqlx::query("INSERT INTO keel_saga_test_reservations (saga_id) VALUES ($1)")
            .bind(&command.saga_id)
            .execute(&mut *conn)
            .await?;
        Ok(keel_sagas::ReplyOutcome::success())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_handle_once_runs_concurrent_deliveries_of_one_command_once() {
    use keel_sagas::CommandKind;
    use keel_sagas::message::{command_id, idempotency_key};
    let store = store().await;
    sqlx::query("CREATE TABLE IF NOT EXISTS keel_saga_test_reservations (saga_id TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .expect("table");
    let saga_id = common::unique("o", '-');
    let command = keel_sagas::CommandEnvelope {
        command_id: command_id("order", &saga_id, 0, 1, CommandKind::Action),
        idempotency_key: idempotency_key("order", &saga_id, 0, CommandKind::Action),
        saga_type: "order".into(),
        saga_id: saga_id.clone(),
        step: 0,
        step_name: "reserve".into(),
        attempt: 1,
        kind: CommandKind::Action,
        participant: "inventory".into(),
        command_type: "Reserve".into(),
        payload: serde_json::json!({}),
        headers: Default::default(),
    };
    let runs = (0..8).map(|_| {
        let (store, command) = (store.clone(), command.clone());
        tokio::spawn(async move { store.handle_once("inventory", &command, &Reserve).await })
    });
    for run in runs {
        assert_eq!(
            run.await.expect("join").expect("handled"),
            keel_sagas::ReplyOutcome::success()
        );
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM keel_saga_test_reservations WHERE saga_id = $1")
            .bind(&saga_id)
            .fetch_one(store.pool())
            .await
            .expect("count");
    assert_eq!(rows, 1);
}
