//! The shop domain the projection tests share: orders and customers, their read models, and a
//! TCP proxy that can be paused to simulate a sink outage.

// Test helpers: a failure here is a test failure, so they unwrap like the tests do.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod dead_letters;
pub mod proxy;

use keel_core::store::{EventStore, ExpectedVersion};
use keel_core::{DomainEvent, NewEvent};
use keel_projections::{DocChange, Envelope, Projection};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, keel_macros::Event)]
#[event(crate = "keel_core")]
pub enum ShopEvent {
    OrderPlaced { customer: String, total_cents: i64 },
    OrderCancelled { reason: String },
    CustomerRegistered { name: String, email: String },
    CustomerErased,
    Noise,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDoc {
    pub customer: String,
    pub total_cents: i64,
    pub status: String,
    pub reason: Option<String>,
}

/// Orders: placed creates, cancelled keeps the document with a new status (a partial update).
pub struct Orders(pub String);

impl Projection for Orders {
    type Event = ShopEvent;
    type Doc = OrderDoc;
    fn name(&self) -> &str {
        &self.0
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["OrderPlaced", "OrderCancelled"]
    }
    fn apply(&self, e: &Envelope<'_, ShopEvent>, doc: Option<OrderDoc>) -> DocChange<OrderDoc> {
        match (&e.event, doc) {
            (
                ShopEvent::OrderPlaced {
                    customer,
                    total_cents,
                },
                _,
            ) => DocChange::Upsert(OrderDoc {
                customer: customer.clone(),
                total_cents: *total_cents,
                status: "placed".into(),
                reason: None,
            }),
            (ShopEvent::OrderCancelled { reason }, Some(mut doc)) => {
                doc.status = "cancelled".into();
                doc.reason = Some(reason.clone());
                DocChange::Upsert(doc)
            }
            _ => DocChange::Unchanged,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerDoc {
    pub name: String,
    pub email: String,
}

/// Customers: registered creates, erased removes the document.
pub struct Customers(pub String);

impl Projection for Customers {
    type Event = ShopEvent;
    type Doc = CustomerDoc;
    fn name(&self) -> &str {
        &self.0
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["CustomerRegistered", "CustomerErased"]
    }
    fn apply(&self, e: &Envelope<'_, ShopEvent>, _: Option<CustomerDoc>) -> DocChange<CustomerDoc> {
        match &e.event {
            ShopEvent::CustomerRegistered { name, email } => DocChange::Upsert(CustomerDoc {
                name: name.clone(),
                email: email.clone(),
            }),
            ShopEvent::CustomerErased => DocChange::Delete,
            _ => DocChange::Unchanged,
        }
    }
}

pub fn placed(customer: &str, total_cents: i64) -> ShopEvent {
    ShopEvent::OrderPlaced {
        customer: customer.into(),
        total_cents,
    }
}

pub fn cancelled(reason: &str) -> ShopEvent {
    ShopEvent::OrderCancelled {
        reason: reason.into(),
    }
}

pub fn registered(name: &str) -> ShopEvent {
    ShopEvent::CustomerRegistered {
        name: name.into(),
        email: format!("{name}@example.com"),
    }
}

pub async fn append(store: &impl EventStore, stream: &str, events: &[ShopEvent]) {
    let events = events
        .iter()
        .map(|e| NewEvent::from_domain(e).unwrap())
        .collect();
    store
        .append(stream, ExpectedVersion::Any, events)
        .await
        .unwrap();
}

pub use keel_core::testing::unique;

/// Polls `check` every 20 ms until it holds or `secs` passed.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub fn event_types() -> &'static [(&'static str, u32)] {
    ShopEvent::event_types()
}
