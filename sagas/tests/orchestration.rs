//! The orchestration engine through `SagaFixture`: order of steps and compensations, timeouts
//! and retries under a manual clock, duplicate and unknown replies, parking.

mod common;

use std::time::Duration;

use common::order_saga;
use keel_sagas::testing::{FixtureInput as I, SagaFixture};
use keel_sagas::{
    Awaiting, CommandKind, CoordinatorConfig, Reply, ReplyDisposition, ReplyOutcome, SagaState,
    message::command_id,
};
use serde_json::json;

fn fixture() -> SagaFixture {
    SagaFixture::new(order_saga("order"))
}

fn start() -> I {
    I::start("o-1", json!({ "total_cents": 4200 }))
}

#[tokio::test]
async fn steps_run_in_order_and_reply_data_feeds_the_next_command() {
    let mut f = fixture();
    f.when(start())
        .await
        .expect_commands(&[("inventory", "Reserve")]);
    f.when(I::success_with("reserve", json!({ "reservation": "r-9" })))
        .await
        .expect_commands(&[("payment", "Capture")]);
    assert_eq!(
        f.dispatched()[0].payload,
        json!({ "reservation": "r-9", "total_cents": 4200 })
    );
    f.when(I::success("pay"))
        .await
        .expect_commands(&[("shipping", "Ship")]);
    f.when(I::success("ship"))
        .await
        .expect_no_commands()
        .expect_state(SagaState::Completed)
        .await;
    assert_eq!(f.instance().await.completed_steps, vec![0, 1, 2]);
    assert_eq!(f.coordinator().metrics().completed, 1);
}

#[tokio::test]
async fn a_failed_step_compensates_the_completed_steps_in_reverse_order() {
    let mut f = fixture();
    f.given(vec![start(), I::success("reserve"), I::success("pay")])
        .await
        .when(I::failure("ship", "no courier"))
        .await
        .expect_commands(&[("payment", "Refund")])
        .expect_state(SagaState::Compensating)
        .await;
    f.when(I::compensated("pay"))
        .await
        .expect_commands(&[("inventory", "Release")]);
    f.when(I::compensated("reserve"))
        .await
        .expect_no_commands()
        .expect_state(SagaState::Compensated)
        .await;
    let saga = f.instance().await;
    assert_eq!(saga.compensated_steps, vec![1, 0]);
    assert_eq!(
        saga.failure.as_deref(),
        Some("step `ship` failed: no courier")
    );
    assert_eq!(f.coordinator().metrics().compensated, 1);
}

#[tokio::test]
async fn a_failure_of_the_first_step_has_nothing_to_compensate() {
    let mut f = fixture();
    f.given(vec![start()])
        .await
        .when(I::failure("reserve", "out of stock"))
        .await
        .expect_no_commands()
        .expect_state(SagaState::Compensated)
        .await;
}

#[tokio::test]
async fn a_timeout_retries_with_backoff_then_compensates() {
    let mut f = fixture();
    f.given(vec![start(), I::success("reserve")]).await;
    let first = f.instance().await;
    assert_eq!((first.current_step, first.attempt), (1, 1));

    // Nothing before the 10 s timeout.
    f.advance_time(Duration::from_secs(9))
        .await
        .expect_no_commands();
    // Timeout: wait the 2 s backoff before the second try.
    f.advance_time(Duration::from_secs(1))
        .await
        .expect_no_commands();
    assert_eq!(f.instance().await.awaiting, Awaiting::Retry);
    f.advance_time(Duration::from_secs(2))
        .await
        .expect_commands(&[("payment", "Capture")]);
    assert_eq!(f.dispatched()[0].attempt, 2);
    assert_eq!(
        f.dispatched()[0].command_id,
        command_id("order", "o-1", 1, 2, CommandKind::Action)
    );
    // Second timeout, third try.
    f.advance_time(Duration::from_secs(10))
        .await
        .expect_no_commands();
    f.advance_time(Duration::from_secs(2))
        .await
        .expect_commands(&[("payment", "Capture")]);
    // Third timeout: tries used up. `pay` may have taken effect (its replies lost), so its
    // compensation runs first, then `reserve`'s.
    f.advance_time(Duration::from_secs(10))
        .await
        .expect_commands(&[("payment", "Refund")])
        .expect_state(SagaState::Compensating)
        .await;
    assert_eq!(
        f.instance().await.failure.as_deref(),
        Some("step `pay` timed out after 3 attempts")
    );
    f.when(I::compensated("pay"))
        .await
        .expect_commands(&[("inventory", "Release")]);
    f.when(I::compensated("reserve"))
        .await
        .expect_no_commands()
        .expect_state(SagaState::Compensated)
        .await;
    assert_eq!(f.instance().await.compensated_steps, vec![1, 0]);
}

#[tokio::test]
async fn a_reply_to_an_earlier_attempt_of_the_current_step_is_its_outcome() {
    let mut f = fixture();
    f.given(vec![start()]).await;
    let first_try = f.last_command("reserve", CommandKind::Action);
    f.given(vec![
        I::time_elapses(Duration::from_secs(10)),
        I::time_elapses(Duration::from_secs(2)),
    ])
    .await;
    assert_eq!(f.instance().await.attempt, 2);
    f.when(I::Reply(first_try.reply(ReplyOutcome::success())))
        .await
        .expect_disposition(ReplyDisposition::Applied(SagaState::Running))
        .expect_commands(&[("payment", "Capture")]);
}

#[tokio::test]
async fn a_duplicate_or_late_reply_is_ignored() {
    let mut f = fixture();
    f.given(vec![start(), I::success("reserve")]).await;
    f.when(I::success("reserve"))
        .await
        .expect_disposition(ReplyDisposition::Ignored)
        .expect_no_commands();
    assert_eq!(f.instance().await.current_step, 1);
    assert_eq!(f.instance().await.version, 2);

    // A forged reply for a try that was never sent is not applied either.
    let forged = Reply {
        command_id: command_id("order", "o-1", 1, 7, CommandKind::Action),
        saga_type: "order".into(),
        saga_id: "o-1".into(),
        step: 1,
        attempt: 7,
        kind: CommandKind::Action,
        outcome: ReplyOutcome::success(),
    };
    f.when(I::Reply(forged))
        .await
        .expect_disposition(ReplyDisposition::Ignored);
    assert_eq!(f.coordinator().metrics().replies_ignored, 2);
}

#[tokio::test]
async fn a_reply_for_an_unknown_saga_is_dead_lettered_with_its_reason() {
    let mut f = fixture();
    let ghost = Reply {
        command_id: command_id("order", "ghost", 0, 1, CommandKind::Action),
        saga_type: "order".into(),
        saga_id: "ghost".into(),
        step: 0,
        attempt: 1,
        kind: CommandKind::Action,
        outcome: ReplyOutcome::success(),
    };
    f.when(I::Reply(ghost.clone()))
        .await
        .expect_disposition(ReplyDisposition::DeadLettered);
    let mut other_type = ghost.clone();
    other_type.saga_type = "no-such-saga".into();
    f.when(I::Reply(other_type))
        .await
        .expect_disposition(ReplyDisposition::DeadLettered);
    use keel_sagas::store::SagaStore as _;
    let letters = f.coordinator().store().dead_letters("ghost").await.unwrap();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(reasons, ["unknown saga", "unknown saga type"]);
    assert_eq!(letters[0].reply, ghost);
    assert_eq!(f.coordinator().metrics().dead_lettered, 2);
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_is_parked_and_counted() {
    let mut f = SagaFixture::with_config(
        order_saga("order"),
        CoordinatorConfig::default().max_compensation_attempts(3),
    );
    f.given(vec![start(), I::success("reserve")])
        .await
        .when(I::failure("pay", "declined"))
        .await
        .expect_commands(&[("inventory", "Release")]);
    f.when(I::compensation_failed("reserve", "db down"))
        .await
        .expect_no_commands();
    f.advance_time(Duration::from_secs(2))
        .await
        .expect_commands(&[("inventory", "Release")]);
    // A timeout counts as a failed try too.
    f.advance_time(Duration::from_secs(10))
        .await
        .expect_no_commands();
    f.advance_time(Duration::from_secs(2))
        .await
        .expect_commands(&[("inventory", "Release")]);
    f.when(I::compensation_failed("reserve", "db still down"))
        .await
        .expect_no_commands()
        .expect_state(SagaState::Parked)
        .await;
    let saga = f.instance().await;
    assert_eq!(
        saga.failure.as_deref(),
        Some("compensation of step `reserve` failed 3 times, last: db still down")
    );
    assert_eq!(f.coordinator().metrics().parked, 1);
    use keel_sagas::store::SagaStore as _;
    let parked = f.coordinator().store().parked("order").await.unwrap();
    assert_eq!(parked.len(), 1);
    // Nothing fires for a parked saga.
    f.advance_time(Duration::from_secs(3600))
        .await
        .expect_no_commands();
}
