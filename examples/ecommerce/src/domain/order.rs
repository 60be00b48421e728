//! The order: placed by the legacy application (its row and its item rows arrive as separate
//! change events, in any order), then confirmed or cancelled by the saga or the customer.

use keel::{Aggregate, Event};
use serde::{Deserialize, Serialize};

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The legacy `order_items.id`.
    pub item_id: i64,
    /// The product.
    pub product_id: i64,
    /// How many.
    pub quantity: i64,
    /// Price of one, in cents.
    pub unit_price_cents: i64,
}

/// The cancellation reason when the customer cancelled in the legacy application.
pub const CUSTOMER: &str = "customer";

/// What happens to an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
pub enum OrderEvent {
    /// The legacy application wrote the order row.
    OrderPlaced {
        /// Who ordered.
        customer_id: i64,
        /// Where to ship.
        shipping_address: String,
        /// The order total, in cents.
        total_cents: i64,
        /// How many item rows belong to it.
        item_count: i64,
    },
    /// The legacy application wrote one item row.
    OrderItemAdded {
        /// The line.
        line: Line,
    },
    /// The order row and all its items are known: fulfilment may start.
    OrderSubmitted {
        /// Who ordered.
        customer_id: i64,
        /// Every line.
        lines: Vec<Line>,
        /// The order total, in cents.
        total_cents: i64,
    },
    /// The legacy application changed the shipping address.
    ShippingAddressChanged {
        /// The new address.
        shipping_address: String,
    },
    /// Inventory reserved and payment captured.
    OrderConfirmed,
    /// Cancelled by the customer (`reason` `customer`) or by the saga.
    OrderCancelled {
        /// Why.
        reason: String,
    },
}

/// Where an order is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing known yet, or the row without all its items.
    #[default]
    Pending,
    /// Complete; the saga runs.
    Submitted,
    /// Final: reserved, paid, confirmed.
    Confirmed,
    /// Final: cancelled (compensated when it was reserved or paid).
    Cancelled,
}

impl Status {
    /// The name used in read models: `placed`, `confirmed` or `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending | Self::Submitted => "placed",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// An order's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Order {
    /// Whether the order row was seen.
    pub placed: bool,
    /// Who ordered.
    pub customer_id: i64,
    /// Where to ship.
    pub shipping_address: String,
    /// The total, in cents.
    pub total_cents: i64,
    /// Item rows expected.
    pub item_count: i64,
    /// Item rows seen.
    pub lines: Vec<Line>,
    /// Where it is.
    pub status: Status,
    /// Whether it was submitted (complete before any cancellation): only a submitted order has
    /// a fulfilment saga.
    #[serde(default)]
    pub submitted: bool,
    /// Whether it was ever confirmed (a customer may cancel a confirmed order: it then ends
    /// cancelled, its fulfilment saga completed).
    #[serde(default)]
    pub confirmed: bool,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
}

/// What the translator and the saga ask of an order.
#[derive(Debug, Clone)]
pub enum OrderCommand {
    /// Record the order row.
    Place {
        /// Who ordered.
        customer_id: i64,
        /// Where to ship.
        shipping_address: String,
        /// The total, in cents.
        total_cents: i64,
        /// Item rows that belong to it.
        item_count: i64,
    },
    /// Record an item row.
    AddItem(Line),
    /// Record a later change of the order row: its address, and whether the customer cancelled.
    Amend {
        /// The row's address.
        shipping_address: String,
        /// The row's status is `cancelled`.
        cancelled: bool,
    },
    /// Cancel, saying why (the saga, after compensating).
    Cancel(String),
    /// Confirm after reservation and payment.
    Confirm,
}

/// Why an order refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// Confirming an order that was cancelled.
    #[error("order was cancelled ({0})")]
    Cancelled(String),
    /// Confirming an order that is not complete.
    #[error("order is not submitted")]
    NotSubmitted,
}

impl Order {
    fn submitted_after(&self, extra: Option<&Line>) -> Option<OrderEvent> {
        let lines: Vec<Line> = self.lines.iter().chain(extra).cloned().collect();
        let complete = self.placed && i64::try_from(lines.len()).ok() == Some(self.item_count);
        (complete && self.status == Status::Pending).then_some(OrderEvent::OrderSubmitted {
            customer_id: self.customer_id,
            lines,
            total_cents: self.total_cents,
        })
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn handle(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        Ok(match command {
            OrderCommand::Place { .. } if self.placed => vec![],
            OrderCommand::Place {
                customer_id,
                shipping_address,
                total_cents,
                item_count,
            } => {
                let placed = OrderEvent::OrderPlaced {
                    customer_id,
                    shipping_address,
                    total_cents,
                    item_count,
                };
                let mut next = self.clone();
                next.apply(&placed);
                std::iter::once(placed)
                    .chain(next.submitted_after(None))
                    .collect()
            }
            OrderCommand::AddItem(line) if self.lines.iter().any(|l| l.item_id == line.item_id) => {
                vec![]
            }
            OrderCommand::AddItem(line) => {
                let submitted = self.submitted_after(Some(&line));
                std::iter::once(OrderEvent::OrderItemAdded { line })
                    .chain(submitted)
                    .collect()
            }
            OrderCommand::Amend {
                shipping_address,
                cancelled,
            } => {
                let mut events = vec![];
                if shipping_address != self.shipping_address {
                    events.push(OrderEvent::ShippingAddressChanged { shipping_address });
                }
                if cancelled && self.status != Status::Cancelled {
                    events.push(OrderEvent::OrderCancelled {
                        reason: CUSTOMER.into(),
                    });
                }
                events
            }
            OrderCommand::Cancel(_) if self.status == Status::Cancelled => vec![],
            OrderCommand::Cancel(reason) => vec![OrderEvent::OrderCancelled { reason }],
            OrderCommand::Confirm => match self.status {
                Status::Confirmed => vec![],
                Status::Submitted => vec![OrderEvent::OrderConfirmed],
                Status::Cancelled => {
                    return Err(OrderError::Cancelled(
                        self.cancel_reason.clone().unwrap_or_default(),
                    ));
                }
                Status::Pending => return Err(OrderError::NotSubmitted),
            },
        })
    }

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                customer_id,
                shipping_address,
                total_cents,
                item_count,
            } => {
                self.placed = true;
                self.customer_id = *customer_id;
                self.shipping_address.clone_from(shipping_address);
                self.total_cents = *total_cents;
                self.item_count = *item_count;
            }
            OrderEvent::OrderItemAdded { line } => self.lines.push(line.clone()),
            OrderEvent::OrderSubmitted { .. } => {
                self.submitted = true;
                if self.status == Status::Pending {
                    self.status = Status::Submitted;
                }
            }
            OrderEvent::ShippingAddressChanged { shipping_address } => {
                self.shipping_address.clone_from(shipping_address)
            }
            OrderEvent::OrderConfirmed => {
                self.status = Status::Confirmed;
                self.confirmed = true;
            }
            OrderEvent::OrderCancelled { reason } => {
                self.status = Status::Cancelled;
                self.cancel_reason = Some(reason.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keel::testing::AggregateFixture;

    use super::*;

    fn line(item_id: i64) -> Line {
        Line {
            item_id,
            product_id: 7,
            quantity: 2,
            unit_price_cents: 150,
        }
    }

    /// `OrderSubmitted` with these items' lines (300 cents each, as `placed` counts them).
    fn submitted(items: &[i64]) -> OrderEvent {
        let lines: Vec<Line> = items.iter().map(|&i| line(i)).collect();
        let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
        OrderEvent::OrderSubmitted {
            customer_id: 1,
            lines,
            total_cents,
        }
    }

    fn placed(item_count: i64) -> OrderEvent {
        OrderEvent::OrderPlaced {
            customer_id: 1,
            shipping_address: "a".into(),
            total_cents: 300 * item_count,
            item_count,
        }
    }

    #[test]
    fn the_last_item_submits_the_order() {
        AggregateFixture::<Order>::new()
            .given(vec![
                placed(2),
                OrderEvent::OrderItemAdded { line: line(1) },
            ])
            .when(OrderCommand::AddItem(line(2)))
            .then_expect_events(vec![
                OrderEvent::OrderItemAdded { line: line(2) },
                submitted(&[1, 2]),
            ]);
    }

    #[test]
    fn items_before_the_row_submit_when_the_row_arrives() {
        AggregateFixture::<Order>::new()
            .given(vec![OrderEvent::OrderItemAdded { line: line(1) }])
            .when(OrderCommand::Place {
                customer_id: 1,
                shipping_address: "a".into(),
                total_cents: 300,
                item_count: 1,
            })
            .then_expect_events(vec![placed(1), submitted(&[1])]);
    }

    #[test]
    fn a_repeated_item_records_nothing() {
        AggregateFixture::<Order>::new()
            .given(vec![
                placed(2),
                OrderEvent::OrderItemAdded { line: line(1) },
            ])
            .when(OrderCommand::AddItem(line(1)))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_cancelled_order_cannot_be_confirmed() {
        AggregateFixture::<Order>::new()
            .given(vec![
                placed(1),
                OrderEvent::OrderItemAdded { line: line(1) },
                submitted(&[1]),
                OrderEvent::OrderCancelled {
                    reason: "customer".into(),
                },
            ])
            .when(OrderCommand::Confirm)
            .then_expect_error(OrderError::Cancelled("customer".into()));
    }

    #[test]
    fn a_customer_may_cancel_a_confirmed_order() {
        AggregateFixture::<Order>::new()
            .given(vec![
                placed(1),
                OrderEvent::OrderItemAdded { line: line(1) },
                submitted(&[1]),
                OrderEvent::OrderConfirmed,
            ])
            .when(OrderCommand::Amend {
                shipping_address: "a".into(),
                cancelled: true,
            })
            .then_expect_events(vec![OrderEvent::OrderCancelled {
                reason: "customer".into(),
            }]);
    }

    #[test]
    fn an_order_cancelled_before_its_items_is_never_submitted() {
        AggregateFixture::<Order>::new()
            .given(vec![
                placed(1),
                OrderEvent::OrderCancelled {
                    reason: "customer".into(),
                },
            ])
            .when(OrderCommand::AddItem(line(1)))
            .then_expect_events(vec![OrderEvent::OrderItemAdded { line: line(1) }]);
    }
}
