//! `#[derive(Saga)]`: the declared steps become the definition, and the typed data starts it.

use std::time::Duration;

use keel_macros::Saga;
use keel_sagas::testing::{FixtureInput as I, SagaFixture};
use keel_sagas::{RetryPolicy, Saga as _, SagaState};
use serde::{Deserialize, Serialize};

// Clippy's `duplicated_attributes` misreads repeated `step(...)` keys as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(Debug, Serialize, Deserialize, Saga)]
#[saga(crate = "keel_sagas", name = "order-fulfilment")]
#[saga(step(
    name = "reserve",
    participant = "inventory",
    action = "ReserveInventory",
    compensation = "ReleaseInventory",
    timeout_ms = 5000,
    attempts = 2,
    backoff_ms = 1000
))]
#[saga(step(
    name = "pay",
    participant = "payment",
    action = "CapturePayment",
    attempts = 4
))]
struct OrderFulfilment {
    sku: String,
    total_cents: i64,
}

#[derive(Debug, Serialize, Deserialize, Saga)]
#[saga(crate = "keel_sagas")]
#[saga(step(name = "only", participant = "p", action = "Do"))]
struct Unnamed {}

#[test]
fn the_attributes_become_the_definition() {
    assert_eq!(OrderFulfilment::SAGA_TYPE, "order-fulfilment");
    assert_eq!(Unnamed::SAGA_TYPE, "Unnamed");
    let def = OrderFulfilment::definition().validate().unwrap();
    let steps = def.steps();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].name, "reserve");
    assert_eq!(steps[0].action.participant, "inventory");
    assert_eq!(steps[0].action.command_type, "ReserveInventory");
    let release = steps[0].compensation.as_ref().unwrap();
    assert_eq!(
        (release.participant.as_str(), release.command_type.as_str()),
        ("inventory", "ReleaseInventory")
    );
    assert_eq!(steps[0].timeout, Duration::from_secs(5));
    assert_eq!(
        steps[0].retry,
        RetryPolicy::fixed(2, Duration::from_secs(1))
    );
    assert!(steps[1].compensation.is_none());
    assert_eq!(steps[1].timeout, Duration::from_secs(30));
    assert_eq!(
        steps[1].retry,
        RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        }
    );
}

#[tokio::test]
async fn a_derived_saga_runs_and_sends_its_data_as_payload() {
    let data = OrderFulfilment {
        sku: "A-1".into(),
        total_cents: 4200,
    };
    let mut f = SagaFixture::new(OrderFulfilment::definition());
    f.when(I::start("o-1", serde_json::to_value(&data).unwrap()))
        .await
        .expect_commands(&[("inventory", "ReserveInventory")]);
    assert_eq!(
        f.dispatched()[0].payload,
        serde_json::json!({ "sku": "A-1", "total_cents": 4200 })
    );
    f.given(vec![I::success("reserve")])
        .await
        .when(I::failure("pay", "declined"))
        .await
        .expect_commands(&[("inventory", "ReleaseInventory")])
        .expect_state(SagaState::Compensating)
        .await;
}

#[tokio::test]
async fn start_saga_takes_the_typed_data() {
    let coordinator = keel_sagas::Coordinator::new(
        keel_sagas::store::MemorySagaStore::new(),
        keel_sagas::testing::RecordingTransport::new(),
    )
    .register(OrderFulfilment::definition())
    .unwrap();
    let data = OrderFulfilment {
        sku: "B-2".into(),
        total_cents: 1,
    };
    let saga = coordinator
        .start_saga("o-2", &data, &keel_core::Metadata::default())
        .await
        .unwrap();
    assert_eq!(saga.saga_type, "order-fulfilment");
    assert_eq!(saga.data["sku"], "B-2");
}
