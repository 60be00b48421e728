//! Choreography on keel-core's event store: reactors turn events into events under one
//! correlation id, a re-delivered trigger appends nothing, and the view shows each instance.

use chrono::Utc;
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore};
use keel_core::subscription::Subscription;
use keel_core::{Metadata, NewEvent};
use keel_sagas::choreography::{Choreography, ChoreographyState, ChoreographyView, Emit, Reactor};
use serde_json::json;
use uuid::Uuid;

fn order_flow() -> Choreography {
    Choreography::new("order")
        .steps([
            "OrderPlaced",
            "InventoryReserved",
            "PaymentCaptured",
            "OrderConfirmed",
        ])
        .failures(["PaymentFailed"])
        .compensations(["InventoryReleased"])
}

fn emit(stream: &str, event_type: &str) -> Option<Emit> {
    Some(Emit {
        stream_id: stream.to_owned(),
        event_type: event_type.to_owned(),
        payload: json!({}),
    })
}

fn reactors(store: &MemoryStore) -> Vec<Reactor<MemoryStore>> {
    vec![
        Reactor::new("inventory", store.clone(), |e| {
            match e.event_type.as_str() {
                "OrderPlaced" => emit(&format!("inventory-{}", e.stream_id), "InventoryReserved"),
                "PaymentFailed" => emit(&format!("inventory-{}", e.stream_id), "InventoryReleased"),
                _ => None,
            }
        }),
        Reactor::new("payment", store.clone(), |e| {
            if e.event_type != "InventoryReserved" {
                return None;
            }
            let outcome = if e.stream_id.ends_with("poor") {
                "PaymentFailed"
            } else {
                "PaymentCaptured"
            };
            emit(&e.stream_id.replace("inventory-", "payment-"), outcome)
        }),
        Reactor::new("orders", store.clone(), |e| {
            if e.event_type != "PaymentCaptured" {
                return None;
            }
            emit(&e.stream_id.replace("payment-", ""), "OrderConfirmed")
        }),
    ]
}

async fn place(store: &MemoryStore, order: &str) -> Uuid {
    let correlation_id = Uuid::new_v4();
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "OrderPlaced".into(),
        schema_version: 1,
        payload: json!({ "order": order }),
        metadata: Metadata {
            correlation_id: Some(correlation_id),
            ..Metadata::default()
        },
        occurred_at: Utc::now(),
    };
    store
        .append(order, ExpectedVersion::NoStream, vec![event])
        .await
        .expect("append");
    correlation_id
}

/// Runs every reactor's subscription until none has anything left to handle.
async fn settle(store: &MemoryStore, reactors: &mut [Reactor<MemoryStore>], prefix: &str) {
    loop {
        let mut handled = 0;
        for reactor in reactors.iter_mut() {
            let name = format!("{prefix}-{reactor:?}");
            handled += Subscription::new(store.clone(), name)
                .catch_up(reactor)
                .await
                .expect("catch up");
        }
        if handled == 0 {
            return;
        }
    }
}

#[tokio::test]
async fn events_chain_under_one_correlation_id_and_the_view_follows_each_instance() {
    let store = MemoryStore::new();
    let rich = place(&store, "order-rich").await;
    let poor = place(&store, "order-poor").await;
    let mut reactors = reactors(&store);
    settle(&store, &mut reactors, "first").await;

    let mut view = ChoreographyView::new(order_flow());
    Subscription::new(store.clone(), "view")
        .catch_up(&mut view)
        .await
        .unwrap();
    let done = view.status(rich).unwrap();
    assert_eq!(done.state, ChoreographyState::Completed);
    assert_eq!(
        done.steps,
        [
            "OrderPlaced",
            "InventoryReserved",
            "PaymentCaptured",
            "OrderConfirmed"
        ]
    );
    let undone = view.status(poor).unwrap();
    assert_eq!(undone.state, ChoreographyState::Compensated);
    assert_eq!(undone.failure.as_deref(), Some("PaymentFailed"));
    assert_eq!(undone.compensations, ["InventoryReleased"]);
    assert!(view.unfinished().is_empty());

    // Causation: each emitted event names its trigger.
    let confirmed = store
        .read_stream("order-rich", Default::default())
        .await
        .unwrap();
    let last = confirmed.last().unwrap();
    assert_eq!(last.event_type, "OrderConfirmed");
    assert_eq!(last.metadata.correlation_id, Some(rich));
    assert!(last.metadata.causation_id.is_some());

    // Re-delivery: reactors replaying everything from the start append nothing new.
    let before = store.head().await.unwrap();
    settle(&store, &mut reactors, "replay").await;
    assert_eq!(store.head().await.unwrap(), before);
}

#[tokio::test]
async fn the_view_shows_where_an_instance_stopped() {
    let store = MemoryStore::new();
    let stuck = place(&store, "order-stuck").await;
    // Only inventory reacts: payment never answers.
    let mut inventory = reactors(&store).remove(0);
    Subscription::new(store.clone(), "inventory")
        .catch_up(&mut inventory)
        .await
        .unwrap();
    let mut view = ChoreographyView::new(order_flow());
    Subscription::new(store.clone(), "view")
        .catch_up(&mut view)
        .await
        .unwrap();
    let unfinished = view.unfinished();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].correlation_id, stuck);
    assert_eq!(unfinished[0].state, ChoreographyState::InProgress);
    assert_eq!(
        unfinished[0].steps.last().map(String::as_str),
        Some("InventoryReserved")
    );
}
