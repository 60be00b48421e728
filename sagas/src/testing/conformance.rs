//! The conformance suite every saga store passes.
//!
//! Each check is a public async function taking a fresh store; [`saga_store_conformance!`]
//! turns them into one `#[tokio::test]` each. Checks use unique saga types and ids, so they
//! also pass on a shared database.
//!
//! [`saga_store_conformance!`]: crate::saga_store_conformance

use chrono::{Duration, Utc};
use keel_core::testing::unique;
use serde_json::json;

use crate::Error;
use crate::instance::{Awaiting, SagaInstance, SagaState};
use crate::message::{CommandKind, Reply, ReplyOutcome, command_id};
use crate::store::{DeadLetter, InboxStore, SagaStore};

/// A running instance at step 0, version 1.
pub fn instance(saga_type: &str, saga_id: &str) -> SagaInstance {
    SagaInstance {
        saga_type: saga_type.to_owned(),
        saga_id: saga_id.to_owned(),
        state: SagaState::Running,
        current_step: 0,
        attempt: 1,
        awaiting: Awaiting::Reply,
        data: json!({ "order": saga_id, "total_cents": 4200 }),
        completed_steps: vec![],
        pending_compensations: vec![],
        compensated_steps: vec![],
        deadline: Some(Utc::now() + Duration::seconds(30)),
        failure: None,
        trace: Default::default(),
        version: 1,
    }
}

/// An instance reads back as it was stored, and a second insert is `SagaExists`.
pub async fn insert_and_load<S: SagaStore>(store: S) {
    let saga_type = unique("conf-insert", '-');
    let stored = instance(&saga_type, "s-1");
    store.insert(&stored).await.expect("insert");
    let loaded = store.load(&saga_type, "s-1").await.expect("load");
    let mut expected = stored.clone();
    expected.deadline = stored
        .deadline
        .map(|d| chrono::DateTime::from_timestamp_micros(d.timestamp_micros()).expect("micros"));
    let mut loaded = loaded.expect("stored");
    loaded.deadline = loaded
        .deadline
        .map(|d| chrono::DateTime::from_timestamp_micros(d.timestamp_micros()).expect("micros"));
    assert_eq!(loaded, expected);
    assert!(store.load(&saga_type, "s-2").await.expect("load").is_none());
    let again = store.insert(&stored).await.expect_err("a second insert");
    assert!(matches!(again, Error::SagaExists { .. }), "{again}");
}

/// An update applies only over the previous version; a stale one is a `Conflict`.
pub async fn update_is_optimistic<S: SagaStore>(store: S) {
    let saga_type = unique("conf-update", '-');
    let mut saga = instance(&saga_type, "s-1");
    store.insert(&saga).await.expect("insert");
    saga.version = 2;
    saga.current_step = 1;
    saga.completed_steps = vec![0];
    store.update(&saga).await.expect("update to 2");
    let stale = store.update(&saga).await.expect_err("version 2 again");
    assert!(
        matches!(stale, Error::Conflict { expected: 1, .. }),
        "{stale}"
    );
    let loaded = store
        .load(&saga_type, "s-1")
        .await
        .expect("load")
        .expect("stored");
    assert_eq!((loaded.version, loaded.current_step), (2, 1));
    assert_eq!(loaded.completed_steps, vec![0]);
    let mut missing = instance(&saga_type, "nobody");
    missing.version = 2;
    assert!(matches!(
        store.update(&missing).await,
        Err(Error::Conflict { .. })
    ));
}

/// `in_flight`, `due` and `parked` select by type, state and deadline.
pub async fn selects_in_flight_due_and_parked<S: SagaStore>(store: S) {
    let saga_type = unique("conf-select", '-');
    let now = Utc::now();
    let mut late = instance(&saga_type, "late");
    late.deadline = Some(now - Duration::seconds(5));
    let mut later = instance(&saga_type, "later");
    later.deadline = Some(now - Duration::seconds(1));
    let mut future = instance(&saga_type, "future");
    future.deadline = Some(now + Duration::seconds(60));
    let mut done = instance(&saga_type, "done");
    done.state = SagaState::Completed;
    done.deadline = None;
    let mut parked = instance(&saga_type, "parked");
    parked.state = SagaState::Parked;
    parked.deadline = Some(now - Duration::seconds(10));
    let other = instance(&unique("conf-other", '-'), "late");
    for saga in [&late, &later, &future, &done, &parked, &other] {
        store.insert(saga).await.expect("insert");
    }
    let ids = |v: Vec<SagaInstance>| v.into_iter().map(|i| i.saga_id).collect::<Vec<_>>();
    let mut in_flight = ids(store.in_flight(&saga_type).await.expect("in flight"));
    in_flight.sort();
    assert_eq!(in_flight, ["future", "late", "later"]);
    assert_eq!(
        ids(store.due(&saga_type, now, 10).await.expect("due")),
        ["late", "later"]
    );
    assert_eq!(
        ids(store.due(&saga_type, now, 1).await.expect("due")),
        ["late"]
    );
    assert_eq!(
        ids(store.parked(&saga_type).await.expect("parked")),
        ["parked"]
    );
}

/// Dead letters keep the reply and the reason, in order.
pub async fn keeps_dead_letters<S: SagaStore>(store: S) {
    let saga_id = unique("conf-dead", '-');
    let reply = |attempt| Reply {
        command_id: command_id("ghost", &saga_id, 0, attempt, CommandKind::Action),
        saga_type: "ghost".into(),
        saga_id: saga_id.clone(),
        step: 0,
        attempt,
        kind: CommandKind::Action,
        outcome: ReplyOutcome::success(),
    };
    for attempt in [1, 2] {
        store
            .dead_letter(&DeadLetter {
                reply: reply(attempt),
                reason: format!("unknown saga {attempt}"),
                at: Utc::now(),
            })
            .await
            .expect("dead letter");
    }
    let letters = store.dead_letters(&saga_id).await.expect("dead letters");
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].reply, reply(1));
    assert_eq!(letters[1].reason, "unknown saga 2");
}

/// The inbox keeps the first outcome per participant and key.
pub async fn inbox_keeps_the_first_outcome<S: InboxStore>(store: S) {
    let key = unique("conf-inbox", '-');
    assert_eq!(store.recorded("inventory", &key).await.expect("read"), None);
    let first = ReplyOutcome::Success {
        data: json!({ "reservation": 7 }),
    };
    assert!(
        store
            .record("inventory", &key, &first)
            .await
            .expect("record")
    );
    assert!(
        !store
            .record("inventory", &key, &ReplyOutcome::failure("again"))
            .await
            .expect("record again")
    );
    assert_eq!(
        store.recorded("inventory", &key).await.expect("read"),
        Some(first)
    );
    assert_eq!(store.recorded("payment", &key).await.expect("read"), None);
}

/// Concurrent writes of one key have one winner: of three inserts one succeeds (the others are
/// `SagaExists`), of three updates over the same version one succeeds (the others are
/// `Conflict`) and is what a load returns, of three inbox records the first kept is the one
/// that said so. (Stores that group concurrent writes must tell each caller its own outcome.)
pub async fn concurrent_writes_of_one_key_have_one_winner<S: SagaStore + InboxStore>(store: S) {
    let saga_type = unique("conf-race", '-');
    let saga = instance(&saga_type, "s-1");
    let (a, b, c) = tokio::join!(
        store.insert(&saga),
        store.insert(&saga),
        store.insert(&saga)
    );
    let inserts = [a, b, c];
    assert_eq!(
        inserts.iter().filter(|r| r.is_ok()).count(),
        1,
        "{inserts:?}"
    );
    assert!(
        inserts
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, Error::SagaExists { .. })),
        "{inserts:?}"
    );

    let next: Vec<SagaInstance> = (1..=3)
        .map(|step| SagaInstance {
            version: 2,
            current_step: step,
            ..saga.clone()
        })
        .collect();
    let (a, b, c) = tokio::join!(
        store.update(&next[0]),
        store.update(&next[1]),
        store.update(&next[2])
    );
    let updates = [a, b, c];
    let winners: Vec<usize> = (0..3).filter(|i| updates[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{updates:?}");
    assert!(
        updates
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, Error::Conflict { expected: 1, .. })),
        "{updates:?}"
    );
    let loaded = store
        .load(&saga_type, "s-1")
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.current_step, next[winners[0]].current_step);

    let key = unique("conf-race-inbox", '-');
    let outcomes: Vec<ReplyOutcome> = (0..3)
        .map(|n| ReplyOutcome::Success { data: json!(n) })
        .collect();
    let (a, b, c) = tokio::join!(
        store.record("inventory", &key, &outcomes[0]),
        store.record("inventory", &key, &outcomes[1]),
        store.record("inventory", &key, &outcomes[2])
    );
    let records = [a.expect("record"), b.expect("record"), c.expect("record")];
    let kept: Vec<usize> = (0..3).filter(|i| records[*i]).collect();
    assert_eq!(kept.len(), 1, "{records:?}");
    assert_eq!(
        store.recorded("inventory", &key).await.expect("read"),
        Some(outcomes[kept[0]].clone())
    );
}

/// Turns every check of the suite into a `#[tokio::test]` on the store `$store` builds
/// (an expression, awaited once per test if it is a future: pass `store().await`-able code
/// as `async { ... }`).
#[macro_export]
macro_rules! saga_store_conformance {
    ($store:expr) => {
        #[tokio::test]
        async fn insert_and_load() {
            $crate::testing::conformance::insert_and_load($store).await;
        }
        #[tokio::test]
        async fn update_is_optimistic() {
            $crate::testing::conformance::update_is_optimistic($store).await;
        }
        #[tokio::test]
        async fn selects_in_flight_due_and_parked() {
            $crate::testing::conformance::selects_in_flight_due_and_parked($store).await;
        }
        #[tokio::test]
        async fn keeps_dead_letters() {
            $crate::testing::conformance::keeps_dead_letters($store).await;
        }
        #[tokio::test]
        async fn inbox_keeps_the_first_outcome() {
            $crate::testing::conformance::inbox_keeps_the_first_outcome($store).await;
        }
        #[tokio::test]
        async fn concurrent_writes_of_one_key_have_one_winner() {
            $crate::testing::conformance::concurrent_writes_of_one_key_have_one_winner($store)
                .await;
        }
    };
}
