//! The read models, declared with `#[derive(Projection)]`: `orders_read_model` / `order:<id>`
//! and `customers_read_model` / `customer:<id>`.

use keel::projections::{DocChange, Envelope};
use serde::{Deserialize, Serialize};

use crate::domain::customer::CustomerEvent;
use crate::domain::order::{Line, OrderEvent};

type OrderEnvelope<'a> = Envelope<'a, OrderEvent>;
type CustomerEnvelope<'a> = Envelope<'a, CustomerEvent>;

/// An order as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, keel::Projection)]
#[projection(name = "orders_read_model", event = OrderEvent, key = id, stream_prefix = "order-")]
#[projection(events(
    OrderPlaced,
    OrderItemAdded,
    ShippingAddressChanged,
    OrderConfirmed,
    OrderCancelled
))]
#[projection(on(
    OrderPlaced = Self::placed,
    OrderItemAdded = Self::item_added,
    ShippingAddressChanged = Self::address_changed,
    OrderConfirmed = Self::confirmed,
    OrderCancelled = Self::cancelled
))]
#[projection(
    elasticsearch(index = "orders_read_model"),
    redis(prefix = "order:", ttl = 3600)
)]
pub struct OrderView {
    /// The legacy order id.
    pub id: String,
    /// Who ordered.
    pub customer_id: i64,
    /// The lines seen so far.
    pub items: Vec<Line>,
    /// The total, in cents.
    pub total_cents: i64,
    /// `placed`, then `confirmed` or `cancelled`.
    pub status: String,
    /// Where to ship.
    pub shipping_address: String,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
}

impl OrderView {
    fn blank() -> Self {
        Self {
            id: String::new(),
            customer_id: 0,
            items: vec![],
            total_cents: 0,
            status: "placed".into(),
            shipping_address: String::new(),
            cancel_reason: None,
        }
    }

    fn placed(e: &OrderEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        let OrderEvent::OrderPlaced {
            customer_id,
            shipping_address,
            total_cents,
            ..
        } = &e.event
        else {
            return DocChange::Unchanged;
        };
        let mut doc = doc.unwrap_or_else(Self::blank);
        doc.customer_id = *customer_id;
        doc.shipping_address.clone_from(shipping_address);
        doc.total_cents = *total_cents;
        DocChange::Upsert(doc)
    }

    fn item_added(e: &OrderEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        let OrderEvent::OrderItemAdded { line } = &e.event else {
            return DocChange::Unchanged;
        };
        let mut doc = doc.unwrap_or_else(Self::blank);
        doc.items.push(line.clone());
        DocChange::Upsert(doc)
    }

    fn address_changed(e: &OrderEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        match (&e.event, doc) {
            (OrderEvent::ShippingAddressChanged { shipping_address }, Some(mut doc)) => {
                doc.shipping_address.clone_from(shipping_address);
                DocChange::Upsert(doc)
            }
            _ => DocChange::Unchanged,
        }
    }

    fn confirmed(_: &OrderEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        doc.map_or(DocChange::Unchanged, |mut doc| {
            doc.status = "confirmed".into();
            DocChange::Upsert(doc)
        })
    }

    fn cancelled(e: &OrderEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        match (&e.event, doc) {
            (OrderEvent::OrderCancelled { reason }, Some(mut doc)) => {
                doc.status = "cancelled".into();
                doc.cancel_reason = Some(reason.clone());
                DocChange::Upsert(doc)
            }
            _ => DocChange::Unchanged,
        }
    }
}

/// A customer as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, keel::Projection)]
#[projection(name = "customers_read_model", event = CustomerEvent, key = id, stream_prefix = "customer-")]
#[projection(events(CustomerRegistered, CustomerAddressChanged))]
#[projection(on(CustomerRegistered = Self::registered, CustomerAddressChanged = Self::address_changed))]
#[projection(
    elasticsearch(index = "customers_read_model"),
    redis(prefix = "customer:", ttl = 1800)
)]
pub struct CustomerView {
    /// The legacy customer id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Postal address.
    pub address: String,
}

impl CustomerView {
    fn registered(e: &CustomerEnvelope<'_>, _: Option<Self>) -> DocChange<Self> {
        match &e.event {
            CustomerEvent::CustomerRegistered {
                name,
                email,
                address,
                ..
            } => DocChange::Upsert(Self {
                id: String::new(),
                name: name.clone(),
                email: email.clone(),
                address: address.clone(),
            }),
            CustomerEvent::CustomerAddressChanged { .. } => DocChange::Unchanged,
        }
    }

    fn address_changed(e: &CustomerEnvelope<'_>, doc: Option<Self>) -> DocChange<Self> {
        match (&e.event, doc) {
            (CustomerEvent::CustomerAddressChanged { address }, Some(mut doc)) => {
                doc.address.clone_from(address);
                DocChange::Upsert(doc)
            }
            _ => DocChange::Unchanged,
        }
    }
}
