//! The event-sourced aggregates: `Order` (fed by the legacy tables through capture), `Customer`,
//! and the saga participants' own `Inventory` (one per product), `Payment` (one per order) and,
//! with choreography, `Reservation` (one per order).

pub mod customer;
pub mod inventory;
pub mod order;
pub mod payment;
pub mod reservation;

use keel::{DomainEvent, RecordedEvent};

/// A stored event as `E`; the error names its type and position.
pub fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<E, String> {
    E::from_payload_ref(&event.event_type, &event.payload)
        .map_err(|e| format!("{} at position {}: {e}", event.event_type, event.position))
}

/// Stream ids: one prefix per aggregate type, then the legacy primary key.
pub mod streams {
    /// `order-<id>`.
    pub fn order(id: i64) -> String {
        format!("order-{id}")
    }
    /// `customer-<id>`.
    pub fn customer(id: i64) -> String {
        format!("customer-{id}")
    }
    /// `inventory-<product id>`.
    pub fn inventory(product_id: i64) -> String {
        format!("inventory-{product_id}")
    }
    /// `reservation-<order id>` (choreography).
    pub fn reservation(order_id: i64) -> String {
        format!("reservation-{order_id}")
    }
    /// The correlation id of everything that happens to order `id`.
    pub fn correlation(order_id: i64) -> uuid::Uuid {
        keel::event::deterministic_id(&order(order_id))
    }
    /// `payment-<order id>`.
    pub fn payment(order_id: i64) -> String {
        format!("payment-{order_id}")
    }
}
