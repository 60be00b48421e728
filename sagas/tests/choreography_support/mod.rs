//! An order choreography declared with `#[derive(Choreography)]`, shared by the choreography
//! tests: orders place and confirm (and cancel when stock or payment fails), inventory reserves (and
//! releases, recording its own event), payment captures or fails.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keel_core::store::{ExpectedVersion, MemoryStore, StreamQuery};
use keel_core::subscription::{HandlerError, Subscription};
use keel_core::{EventStore, NewEvent};
use keel_macros::Choreography;
use keel_sagas::choreography::{Choreography, Outcome, Reactor, Trigger};
use serde_json::json;

/// The order id of `<prefix>-<id>`.
pub fn order_of(stream_id: &str) -> String {
    stream_id
        .split_once('-')
        .map_or(stream_id, |(_, id)| id)
        .to_owned()
}

#[derive(Choreography)]
#[choreography(crate = "keel_sagas", name = "order", participant = "orders")]
#[choreography(step(
    name = "place",
    emits = "OrderPlaced",
    compensation(on = ["InventoryRejected", "PaymentFailed"], handler = Self::cancel, emits = "OrderCancelled")
))]
#[choreography(step(
    name = "confirm",
    on = "PaymentCaptured",
    handler = Self::confirm,
    emits = "OrderConfirmed"
))]
pub struct Orders;

impl Orders {
    async fn confirm(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let order = order_of(trigger.stream_id());
        Ok(Outcome::success(format!("order-{order}"), json!({})))
    }

    async fn cancel(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let order = order_of(trigger.stream_id());
        Ok(Outcome::success(
            format!("order-{order}"),
            json!({ "reason": trigger.event_type() }),
        ))
    }
}

/// Generic over its store, so tests can run it on any.
#[derive(Choreography)]
#[choreography(crate = "keel_sagas", name = "order", participant = "inventory")]
#[choreography(step(
    name = "reserve",
    on = "OrderPlaced",
    handler = Self::reserve,
    emits = "InventoryReserved",
    fails = "InventoryRejected",
    compensation(on = ["PaymentFailed"], handler = Self::release, emits = "InventoryReleased")
))]
pub struct Inventory<S: EventStore> {
    pub store: S,
    /// Calls per handler, to see what ran.
    pub calls: Arc<Mutex<HashMap<&'static str, u32>>>,
}

impl<S: EventStore> Inventory<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            calls: Arc::default(),
        }
    }

    fn count(&self, handler: &'static str) {
        *self.calls.lock().unwrap().entry(handler).or_default() += 1;
    }

    /// Rejects orders whose quantity is above 10.
    async fn reserve(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        self.count("reserve");
        let stream = format!("inventory-{}", order_of(trigger.stream_id()));
        let quantity = trigger.event().payload["quantity"].as_i64().unwrap_or(1);
        Ok(if quantity > 10 {
            Outcome::failure(stream, json!({ "reason": "out of stock" }))
        } else {
            Outcome::success(stream, json!({ "quantity": quantity }))
        })
    }

    /// Records its own event (as a handler working through an aggregate would), and only when
    /// something was reserved and not yet released.
    async fn release(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        self.count("release");
        let stream = format!("inventory-{}", order_of(trigger.stream_id()));
        let history = self.store.read_stream(&stream, StreamQuery::all()).await?;
        let held = history
            .last()
            .is_some_and(|e| e.event_type == "InventoryReserved");
        if !held {
            return Ok(Outcome::nothing());
        }
        let released = NewEvent {
            event_id: uuid::Uuid::new_v4(),
            event_type: "InventoryReleased".into(),
            schema_version: 1,
            payload: json!({}),
            metadata: trigger.metadata().clone(),
            occurred_at: chrono::Utc::now(),
        };
        let outcome = self
            .store
            .append(
                &stream,
                ExpectedVersion::Exact(history.len() as u64),
                vec![released],
            )
            .await?;
        Ok(Outcome::recorded(outcome.appended))
    }
}

/// Fails the payment of orders whose id ends with `poor`.
#[derive(Choreography)]
#[choreography(crate = "keel_sagas", name = "order", participant = "payment")]
#[choreography(step(
    name = "pay",
    on = "InventoryReserved",
    handler = Self::pay,
    emits = "PaymentCaptured",
    fails = "PaymentFailed"
))]
pub struct Payment;

impl Payment {
    async fn pay(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let order = order_of(trigger.stream_id());
        let stream = format!("payment-{order}");
        Ok(if order.ends_with("poor") {
            Outcome::failure(stream, json!({ "reason": "card declined" }))
        } else {
            Outcome::success(stream, json!({}))
        })
    }
}

/// The whole choreography, from its participants.
pub fn order_choreography() -> Choreography {
    Choreography::new("order")
        .with::<Orders>()
        .with::<Inventory<MemoryStore>>()
        .with::<Payment>()
}

/// Every participant's reactor on `store`.
pub struct Reactors {
    pub orders: Reactor<Orders, MemoryStore>,
    pub inventory: Reactor<Inventory<MemoryStore>, MemoryStore>,
    pub payment: Reactor<Payment, MemoryStore>,
}

impl Reactors {
    pub fn new(store: &MemoryStore) -> Self {
        Self {
            orders: Reactor::new(Orders, store.clone()),
            inventory: Reactor::new(Inventory::new(store.clone()), store.clone()),
            payment: Reactor::new(Payment, store.clone()),
        }
    }

    /// Runs every reactor's subscription (names prefixed with `prefix`) until none has
    /// anything left to handle.
    pub async fn settle(&mut self, store: &MemoryStore, prefix: &str) {
        loop {
            let sub = |name: String| Subscription::new(store.clone(), format!("{prefix}:{name}"));
            let handled = sub(Reactor::<Orders, MemoryStore>::subscription_name())
                .catch_up(&mut self.orders)
                .await
                .unwrap()
                + sub(Reactor::<Inventory<MemoryStore>, MemoryStore>::subscription_name())
                    .catch_up(&mut self.inventory)
                    .await
                    .unwrap()
                + sub(Reactor::<Payment, MemoryStore>::subscription_name())
                    .catch_up(&mut self.payment)
                    .await
                    .unwrap();
            if handled == 0 {
                return;
            }
        }
    }
}
