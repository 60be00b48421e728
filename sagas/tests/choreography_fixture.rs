//! `ChoreographyFixture`: given events, when an event, expect the events a participant emits.

mod choreography_support;

use choreography_support::{Inventory, Orders, Payment};
use keel_core::subscription::HandlerError;
use keel_macros::Choreography;
use keel_sagas::choreography::{Outcome, Trigger};
use keel_sagas::testing::{ChoreographyFixture, FixtureEvent as E};
use serde_json::json;

#[tokio::test]
async fn a_step_emits_its_success_or_its_failure() {
    ChoreographyFixture::new(Inventory::new)
        .when(E::new("order-1", "OrderPlaced", json!({ "quantity": 2 })))
        .await
        .expect_emitted(&["InventoryReserved"]);
    let mut f = ChoreographyFixture::new(Inventory::new);
    f.when(E::new("order-1", "OrderPlaced", json!({ "quantity": 20 })))
        .await
        .expect_emitted(&["InventoryRejected"]);
    assert_eq!(f.appended()[0].stream_id, "inventory-1");
    assert_eq!(f.appended()[0].payload, json!({ "reason": "out of stock" }));
}

#[tokio::test]
async fn a_compensation_undoes_only_what_was_done() {
    let mut f = ChoreographyFixture::new(Inventory::new);
    f.given(vec![
        E::new("order-1", "OrderPlaced", json!({})),
        E::new("inventory-1", "InventoryReserved", json!({})),
        E::new("payment-1", "PaymentCaptured", json!({})),
    ])
    .await
    .when(E::new("payment-1", "PaymentFailed", json!({})))
    .await
    .expect_emitted(&["InventoryReleased"]);
    // Handled again (a re-delivery), nothing is held any more.
    f.when(E::new("payment-1", "PaymentFailed", json!({})))
        .await
        .expect_nothing_emitted();
}

#[tokio::test]
async fn events_the_participant_does_not_react_to_emit_nothing() {
    ChoreographyFixture::new(|_| Payment)
        .when(E::new("order-1", "OrderPlaced", json!({})))
        .await
        .expect_nothing_emitted();
    ChoreographyFixture::new(|_| Orders)
        .given(vec![E::new("order-9", "OrderPlaced", json!({}))])
        .await
        .when(E::new("payment-9", "PaymentCaptured", json!({})))
        .await
        .expect_emitted(&["OrderConfirmed"]);
}

/// A participant that misuses outcomes: a failure from a step without `fails`, a failure from
/// a compensation.
#[derive(Choreography)]
#[choreography(crate = "keel_sagas", name = "order", participant = "careless")]
#[choreography(step(
    name = "ship",
    on = "PaymentCaptured",
    handler = Self::fail,
    emits = "Shipped",
    compensation(on = "PaymentRefunded", handler = Self::fail, emits = "Unshipped")
))]
struct Careless;

impl Careless {
    async fn fail(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        Ok(Outcome::failure(trigger.stream_id(), json!({})))
    }
}

#[tokio::test]
async fn misused_outcomes_are_errors_naming_the_step() {
    ChoreographyFixture::new(|_| Careless)
        .when(E::new("payment-1", "PaymentCaptured", json!({})))
        .await
        .expect_error("step `ship` of `careless` failed, but declares no `fails` event");
    ChoreographyFixture::new(|_| Careless)
        .when(E::new("payment-1", "PaymentRefunded", json!({})))
        .await
        .expect_error("the compensation of step `ship` of `careless` returned a failure");
}

#[tokio::test]
#[should_panic(expected = "the events emitted by `inventory`")]
async fn the_fixture_fails_when_the_emitted_events_differ() {
    ChoreographyFixture::new(Inventory::new)
        .when(E::new("order-1", "OrderPlaced", json!({ "quantity": 20 })))
        .await
        .expect_emitted(&["InventoryReserved"]);
}
