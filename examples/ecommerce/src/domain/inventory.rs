//! Stock of one product, owned by the inventory participant: reservations per order.

use std::collections::BTreeMap;

use keel::{Aggregate, Event};
use serde::{Deserialize, Serialize};

/// What happens to a product's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub enum InventoryEvent {
    /// The product row was written with its stock.
    ProductStocked {
        /// Units on hand.
        stock: i64,
    },
    /// Units set aside for an order.
    StockReserved {
        /// The order.
        order_id: i64,
        /// Units.
        quantity: i64,
    },
    /// An order's units returned.
    StockReleased {
        /// The order.
        order_id: i64,
        /// Units.
        quantity: i64,
    },
}

/// A product's stock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inventory {
    /// Whether the product row was seen.
    pub stocked: bool,
    /// Units neither reserved nor shipped.
    pub available: i64,
    /// Units held per order.
    pub reserved: BTreeMap<i64, i64>,
}

/// What the inventory participant asks.
#[derive(Debug, Clone)]
pub enum InventoryCommand {
    /// Take the stock from the product row (once).
    Stock(i64),
    /// Hold `quantity` units for `order_id` (once per order).
    Reserve {
        /// The order.
        order_id: i64,
        /// Units.
        quantity: i64,
    },
    /// Return what `order_id` holds, if anything.
    Release {
        /// The order.
        order_id: i64,
    },
}

/// Why a reservation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Not enough units.
    #[error("insufficient stock: {wanted} wanted, {available} available")]
    Insufficient {
        /// Units asked for.
        wanted: i64,
        /// Units available.
        available: i64,
    },
}

impl Aggregate for Inventory {
    const TYPE: &'static str = "inventory";
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = InventoryError;

    fn handle(&self, command: InventoryCommand) -> Result<Vec<InventoryEvent>, InventoryError> {
        Ok(match command {
            InventoryCommand::Stock(_) if self.stocked => vec![],
            InventoryCommand::Stock(stock) => vec![InventoryEvent::ProductStocked { stock }],
            InventoryCommand::Reserve { order_id, .. } if self.reserved.contains_key(&order_id) => {
                vec![]
            }
            InventoryCommand::Reserve { quantity, .. } if quantity > self.available => {
                return Err(InventoryError::Insufficient {
                    wanted: quantity,
                    available: self.available,
                });
            }
            InventoryCommand::Reserve { order_id, quantity } => {
                vec![InventoryEvent::StockReserved { order_id, quantity }]
            }
            InventoryCommand::Release { order_id } => match self.reserved.get(&order_id) {
                Some(&quantity) => vec![InventoryEvent::StockReleased { order_id, quantity }],
                None => vec![],
            },
        })
    }

    fn apply(&mut self, event: &InventoryEvent) {
        match event {
            InventoryEvent::ProductStocked { stock } => {
                self.stocked = true;
                self.available += stock;
            }
            InventoryEvent::StockReserved { order_id, quantity } => {
                self.available -= quantity;
                self.reserved.insert(*order_id, *quantity);
            }
            InventoryEvent::StockReleased { order_id, quantity } => {
                self.available += quantity;
                self.reserved.remove(order_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keel::testing::AggregateFixture;

    use super::*;

    #[test]
    fn a_reservation_beyond_the_stock_is_refused() {
        AggregateFixture::<Inventory>::new()
            .given(vec![InventoryEvent::ProductStocked { stock: 3 }])
            .when(InventoryCommand::Reserve {
                order_id: 1,
                quantity: 4,
            })
            .then_expect_error(InventoryError::Insufficient {
                wanted: 4,
                available: 3,
            });
    }

    #[test]
    fn a_second_reservation_for_the_same_order_holds_nothing_more() {
        AggregateFixture::<Inventory>::new()
            .given(vec![
                InventoryEvent::ProductStocked { stock: 3 },
                InventoryEvent::StockReserved {
                    order_id: 1,
                    quantity: 2,
                },
            ])
            .when(InventoryCommand::Reserve {
                order_id: 1,
                quantity: 2,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn releasing_returns_exactly_what_the_order_held() {
        AggregateFixture::<Inventory>::new()
            .given(vec![
                InventoryEvent::ProductStocked { stock: 3 },
                InventoryEvent::StockReserved {
                    order_id: 1,
                    quantity: 2,
                },
            ])
            .when(InventoryCommand::Release { order_id: 1 })
            .then_expect_events(vec![InventoryEvent::StockReleased {
                order_id: 1,
                quantity: 2,
            }]);
    }

    #[test]
    fn releasing_an_order_that_holds_nothing_records_nothing() {
        AggregateFixture::<Inventory>::new()
            .given(vec![InventoryEvent::ProductStocked { stock: 3 }])
            .when(InventoryCommand::Release { order_id: 9 })
            .then_expect_events(vec![]);
    }
}
