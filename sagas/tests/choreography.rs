//! Choreography on keel-core's event store, with participants declared by
//! `#[derive(Choreography)]`: reactions chain under one correlation id, a re-delivered trigger
//! appends nothing, and the saga view shows each instance and where one stopped.
#![allow(clippy::unwrap_used)] // helpers outside `#[test]` functions unwrap too

mod choreography_support;

use std::time::Duration;

use choreography_support::{Inventory, Orders, Payment, Reactors, order_choreography};
use chrono::Utc;
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, StreamQuery};
use keel_core::subscription::Subscription;
use keel_core::{Metadata, NewEvent};
use keel_sagas::Error;
use keel_sagas::choreography::{
    Choreographed, Choreography, ChoreographyState, ChoreographyStep, ChoreographyView,
    Compensation, MemoryChoreographyView, Reactor, StatusQuery,
};
use serde_json::json;
use uuid::Uuid;

async fn place(store: &MemoryStore, order: &str, quantity: i64) -> Uuid {
    let correlation_id = Uuid::new_v4();
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "OrderPlaced".into(),
        schema_version: 1,
        payload: json!({ "quantity": quantity }),
        metadata: Metadata {
            correlation_id: Some(correlation_id),
            ..Metadata::default()
        },
        occurred_at: Utc::now(),
    };
    store
        .append(
            &format!("order-{order}"),
            ExpectedVersion::NoStream,
            vec![event],
        )
        .await
        .unwrap();
    correlation_id
}

async fn view_of(store: &MemoryStore) -> MemoryChoreographyView {
    let mut view = MemoryChoreographyView::new(order_choreography()).unwrap();
    Subscription::new(store.clone(), "view")
        .catch_up(&mut view)
        .await
        .unwrap();
    view
}

async fn types(store: &MemoryStore, stream: &str) -> Vec<String> {
    let events = store.read_stream(stream, StreamQuery::all()).await.unwrap();
    events.into_iter().map(|e| e.event_type).collect()
}

#[test]
fn the_derive_declares_each_participants_steps() {
    assert_eq!(Inventory::<MemoryStore>::CHOREOGRAPHY, "order");
    assert_eq!(Inventory::<MemoryStore>::PARTICIPANT, "inventory");
    assert_eq!(
        Inventory::<MemoryStore>::steps(),
        [
            ChoreographyStep::new("inventory", "reserve", "InventoryReserved")
                .on(["OrderPlaced"])
                .fails("InventoryRejected")
                .compensate(Compensation::new(["PaymentFailed"], "InventoryReleased"))
        ]
    );
    let orders = Orders::steps();
    assert!(orders[0].is_start());
    assert_eq!(orders[1].on, ["PaymentCaptured"]);
    let c = order_choreography().validate().unwrap();
    assert_eq!(c.steps().len(), 4);
    assert!(c.involves("OrderCancelled"));
    assert_eq!(
        Reactor::<Payment, MemoryStore>::subscription_name(),
        "choreography:order:payment"
    );
}

#[test]
fn participants_that_do_not_fit_together_are_refused() {
    let other = Choreography::new("refund").with::<Payment>().validate();
    assert!(
        matches!(&other, Err(Error::InvalidChoreography { reason, .. }) if reason == "participant `payment` is declared for choreography `order`"),
        "{other:?}"
    );
    // Without inventory, nothing emits what payment and orders react to.
    let partial = Choreography::new("order")
        .with::<Orders>()
        .with::<Payment>()
        .validate();
    assert!(
        matches!(&partial, Err(Error::InvalidChoreography { reason, .. }) if reason == "the compensation of step `place` reacts to `InventoryRejected`, which is neither a step's failure nor a compensation"),
        "{partial:?}"
    );
    let typo = Choreography::new("order")
        .step(ChoreographyStep::new("orders", "place", "OrderPlaced"))
        .step(ChoreographyStep::new("inventory", "reserve", "InventoryReserved").on(["OrderPlacd"]))
        .validate();
    assert!(
        matches!(&typo, Err(Error::InvalidChoreography { reason, .. }) if reason == "step `reserve` reacts to `OrderPlacd`, which no step emits on success"),
        "{typo:?}"
    );
}

#[tokio::test]
async fn events_chain_under_one_correlation_id_and_the_view_follows_each_instance() {
    let store = MemoryStore::new();
    let rich = place(&store, "1-rich", 2).await;
    let poor = place(&store, "2-poor", 2).await;
    let rejected = place(&store, "3-big", 50).await;
    let mut reactors = Reactors::new(&store);
    reactors.settle(&store, "first").await;

    assert_eq!(
        types(&store, "order-1-rich").await,
        ["OrderPlaced", "OrderConfirmed"]
    );
    assert_eq!(
        types(&store, "inventory-2-poor").await,
        ["InventoryReserved", "InventoryReleased"]
    );
    assert_eq!(
        types(&store, "order-2-poor").await,
        ["OrderPlaced", "OrderCancelled"]
    );
    assert_eq!(
        types(&store, "inventory-3-big").await,
        ["InventoryRejected"]
    );
    assert_eq!(
        types(&store, "order-3-big").await,
        ["OrderPlaced", "OrderCancelled"]
    );

    let view = view_of(&store).await;
    let done = view.status(rich).await.unwrap().unwrap();
    assert_eq!(done.state, ChoreographyState::Completed);
    assert_eq!(done.completed, ["place", "reserve", "pay", "confirm"]);
    let undone = view.status(poor).await.unwrap().unwrap();
    assert_eq!(undone.state, ChoreographyState::Compensated);
    assert_eq!(undone.failure.as_deref(), Some("PaymentFailed"));
    assert_eq!(
        undone.compensated,
        ["place", "reserve"],
        "in the order they happened"
    );
    let refused = view.status(rejected).await.unwrap().unwrap();
    assert_eq!(refused.state, ChoreographyState::Compensated);
    assert_eq!(refused.compensated, ["place"]);
    assert_eq!(refused.failure.as_deref(), Some("InventoryRejected"));
    assert!(
        view.find(&StatusQuery::unfinished())
            .await
            .unwrap()
            .is_empty()
    );

    // Each emitted event carries the correlation id and names its trigger.
    let confirmed = store
        .read_stream("order-1-rich", StreamQuery::all())
        .await
        .unwrap();
    let captured = store
        .read_stream("payment-1-rich", StreamQuery::all())
        .await
        .unwrap();
    assert_eq!(confirmed[1].metadata.correlation_id, Some(rich));
    assert_eq!(
        confirmed[1].metadata.causation_id,
        Some(captured[0].event_id)
    );

    // Re-delivery: every reactor handling everything again appends nothing new, and a handler
    // that records its own events decides again without appending.
    let before = store.head().await.unwrap();
    reactors.settle(&store, "replay").await;
    assert_eq!(store.head().await.unwrap(), before);
    let calls = reactors
        .inventory
        .participant()
        .calls
        .lock()
        .unwrap()
        .clone();
    assert_eq!((calls["reserve"], calls["release"]), (6, 2));
}

#[tokio::test]
async fn the_view_shows_where_an_instance_stopped() {
    let store = MemoryStore::new();
    let stuck = place(&store, "1-stuck", 1).await;
    // Only inventory reacts: payment never answers.
    let mut reactors = Reactors::new(&store);
    Subscription::new(store.clone(), "inventory")
        .catch_up(&mut reactors.inventory)
        .await
        .unwrap();
    let view = view_of(&store).await;
    let found = view
        .find(&StatusQuery::stuck("pay", Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].correlation_id, stuck);
    assert_eq!(found[0].state, ChoreographyState::Running);
    assert_eq!(found[0].completed, ["place", "reserve"]);
    assert_eq!(found[0].awaiting, ["pay"]);
    assert!(
        view.find(&StatusQuery::stuck("pay", Duration::from_secs(3600)))
            .await
            .unwrap()
            .is_empty(),
        "it has not been stuck for an hour"
    );
}
