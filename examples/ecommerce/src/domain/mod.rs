//! The event-sourced aggregates: `Order` (fed by the legacy tables through capture), `Customer`,
//! and the saga participants' own `Inventory` (one per product) and `Payment` (one per order).

pub mod customer;
pub mod inventory;
pub mod order;
pub mod payment;

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
    /// `payment-<order id>`.
    pub fn payment(order_id: i64) -> String {
        format!("payment-{order_id}")
    }
}
