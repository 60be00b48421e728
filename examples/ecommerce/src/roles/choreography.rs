//! `--saga choreography`: no coordinator. Each participant follows the event store with a
//! subscription of its own and reacts to the others' events with its own:
//!
//! ```text
//! OrderSubmitted ─inventory→ InventoryReserved ─payment→ PaymentCaptured ─orders→ OrderConfirmed
//!                └────────→ InventoryRejected ─orders→ OrderCancelled
//!                           PaymentDeclined ─inventory→ InventoryReleased, ─orders→ OrderCancelled
//! OrderCancelled (by the customer) ─inventory→ InventoryReleased, ─payment→ PaymentRefunded
//! ```
//!
//! Every reaction carries the trigger's correlation id (the order's) and trace context, so
//! one order is one trace and [`view`] reconstructs each instance. Reactions are idempotent in
//! the aggregates (a reservation, a capture, a refund per order at most once), so a trigger
//! handled again after a crash changes nothing.

use async_trait::async_trait;
use keel::sagas::choreography::{Choreography, ChoreographyView};
use keel::store::PostgresStore;
use keel::subscription::{EventHandler, HandlerError, Subscription};
use keel::{DomainEvent, Metadata, RecordedEvent, Repository};
use tracing::Instrument;

use super::participants::{execute, release_lines, reserve_lines};
use crate::domain::customer::Customer;
use crate::domain::inventory::Inventory;
use crate::domain::order::{Order, OrderCommand, OrderEvent, Status};
use crate::domain::payment::{Payment, PaymentCommand, PaymentEvent};
use crate::domain::reservation::{
    Reservation, ReservationCommand, ReservationEvent, ReservationStatus,
};
use crate::domain::streams;
use crate::settings::Settings;

/// The subscriptions of the reactors, by role.
pub const SUBSCRIPTIONS: [&str; 3] = [
    "choreography:inventory",
    "choreography:payment",
    "choreography:orders",
];

/// The choreography as the saga view reads it.
pub fn definition() -> Choreography {
    Choreography::new("order-fulfilment")
        .steps([
            "OrderSubmitted",
            "InventoryReserved",
            "PaymentCaptured",
            "OrderConfirmed",
        ])
        .failures(["InventoryRejected", "PaymentDeclined", "OrderCancelled"])
        .compensations(["InventoryReleased", "PaymentRefunded"])
}

/// A view of every choreographed order, folded from the store's whole history.
pub async fn view(store: &PostgresStore) -> crate::Result<ChoreographyView> {
    let mut view = ChoreographyView::new(definition());
    let name = format!("choreography:view:{}", uuid::Uuid::new_v4());
    Subscription::new(store.clone(), name)
        .catch_up(&mut view)
        .await?;
    Ok(view)
}

/// Runs the reactor of `role` (`inventory`, `payment` or `orders`) until `shutdown`.
pub async fn run(
    settings: &Settings,
    role: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> crate::Result<()> {
    let store = crate::store::connect(settings).await?;
    let reactions = Reactions {
        orders: crate::store::orders(store.clone()),
        inventory: crate::store::inventory(store.clone()),
        reservations: Repository::new(store.clone()),
        payments: crate::store::payments(store.clone()),
        customers: Repository::new(store.clone()),
    };
    let (name, mut reactor) = match role {
        "inventory" => (
            SUBSCRIPTIONS[0],
            Reactor {
                role: Role::Inventory,
                reactions,
            },
        ),
        "payment" => (
            SUBSCRIPTIONS[1],
            Reactor {
                role: Role::Payment,
                reactions,
            },
        ),
        "orders" => (
            SUBSCRIPTIONS[2],
            Reactor {
                role: Role::Orders,
                reactions,
            },
        ),
        other => return Err(format!("no reactor named `{other}`").into()),
    };
    Subscription::new(store, name)
        .run(&mut reactor, shutdown)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Inventory,
    Payment,
    Orders,
}

struct Reactions {
    orders: Repository<Order, PostgresStore>,
    inventory: Repository<Inventory, PostgresStore>,
    reservations: Repository<Reservation, PostgresStore>,
    payments: Repository<Payment, PostgresStore>,
    customers: Repository<Customer, PostgresStore>,
}

struct Reactor {
    role: Role,
    reactions: Reactions,
}

/// The order id of a stream `<prefix>-<id>`.
fn order_id(event: &RecordedEvent) -> Option<i64> {
    event
        .stream_id
        .rsplit_once('-')
        .and_then(|(_, id)| id.parse().ok())
}

fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<E, HandlerError> {
    Ok(crate::domain::decode(event)?)
}

impl Reactions {
    /// Inventory: hold the lines of a submitted order, or record why not.
    async fn reserve(
        &self,
        id: i64,
        event: &RecordedEvent,
        meta: &Metadata,
    ) -> Result<(), HandlerError> {
        let OrderEvent::OrderSubmitted { lines, .. } = decode(event)? else {
            return Ok(());
        };
        let stream = streams::reservation(id);
        if self.reservations.load(&stream).await?.state.status != ReservationStatus::None {
            return Ok(()); // decided before a crash
        }
        let decided = match reserve_lines(&self.inventory, id, &lines, meta).await? {
            Ok(()) => ReservationCommand::Reserved(lines),
            Err(reason) => ReservationCommand::Rejected(reason),
        };
        let Ok(_) = execute(&self.reservations, &stream, decided, meta).await?;
        Ok(())
    }

    /// Inventory: return what the order holds (payment declined, or the customer cancelled).
    async fn release(&self, id: i64, meta: &Metadata) -> Result<(), HandlerError> {
        let order = self.orders.load(&streams::order(id)).await?.state;
        release_lines(&self.inventory, id, &order.lines, meta).await?;
        let Ok(_) = execute(
            &self.reservations,
            &streams::reservation(id),
            ReservationCommand::Released,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Payment: charge a reserved order, unless it was cancelled meanwhile.
    async fn capture(&self, id: i64, meta: &Metadata) -> Result<(), HandlerError> {
        let order = self.orders.load(&streams::order(id)).await?.state;
        let command = if order.status == Status::Cancelled {
            PaymentCommand::Decline("the order was cancelled".into())
        } else {
            let customer = self
                .customers
                .load(&streams::customer(order.customer_id))
                .await?
                .state;
            PaymentCommand::Capture {
                customer_id: order.customer_id,
                amount_cents: order.total_cents,
                credit_limit_cents: customer.credit_limit_cents,
            }
        };
        let Ok(_) = execute(&self.payments, &streams::payment(id), command, meta).await?;
        Ok(())
    }

    /// Payment: pay back a cancelled order's capture.
    async fn refund(&self, id: i64, meta: &Metadata) -> Result<(), HandlerError> {
        let Ok(_) = execute(
            &self.payments,
            &streams::payment(id),
            PaymentCommand::Refund,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Orders: confirm a paid order (a cancelled one stays cancelled; its reactions undo it).
    async fn confirm(&self, id: i64, meta: &Metadata) -> Result<(), HandlerError> {
        let _ = execute(
            &self.orders,
            &streams::order(id),
            OrderCommand::Confirm,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Orders: cancel an order that could not be fulfilled.
    async fn cancel(&self, id: i64, reason: String, meta: &Metadata) -> Result<(), HandlerError> {
        let _ = execute(
            &self.orders,
            &streams::order(id),
            OrderCommand::Cancel(reason),
            meta,
        )
        .await?;
        Ok(())
    }
}

impl Reactor {
    async fn react(
        &self,
        event: &RecordedEvent,
        id: i64,
        meta: &Metadata,
    ) -> Result<(), HandlerError> {
        let r = &self.reactions;
        let customer_cancelled = || -> Result<bool, HandlerError> {
            Ok(
                matches!(decode::<OrderEvent>(event)?, OrderEvent::OrderCancelled { reason } if reason == crate::domain::order::CUSTOMER),
            )
        };
        match (self.role, event.event_type.as_str()) {
            (Role::Inventory, "OrderSubmitted") => r.reserve(id, event, meta).await,
            (Role::Inventory, "PaymentDeclined") => r.release(id, meta).await,
            (Role::Inventory, "OrderCancelled") if customer_cancelled()? => {
                r.release(id, meta).await
            }
            (Role::Payment, "InventoryReserved") => r.capture(id, meta).await,
            (Role::Payment, "OrderCancelled") if customer_cancelled()? => r.refund(id, meta).await,
            (Role::Orders, "PaymentCaptured") => r.confirm(id, meta).await,
            (Role::Orders, "PaymentDeclined") => {
                let PaymentEvent::PaymentDeclined { reason, .. } = decode(event)? else {
                    return Ok(());
                };
                r.cancel(id, format!("payment declined: {reason}"), meta)
                    .await
            }
            (Role::Orders, "InventoryRejected") => {
                let ReservationEvent::InventoryRejected { reason } = decode(event)? else {
                    return Ok(());
                };
                r.cancel(id, reason, meta).await
            }
            _ => Ok(()),
        }
    }

    /// Whether this role reacts to `event_type` at all.
    fn listens(&self, event_type: &str) -> bool {
        let types: &[&str] = match self.role {
            Role::Inventory => &["OrderSubmitted", "PaymentDeclined", "OrderCancelled"],
            Role::Payment => &["InventoryReserved", "OrderCancelled"],
            Role::Orders => &["PaymentCaptured", "PaymentDeclined", "InventoryRejected"],
        };
        types.contains(&event_type)
    }
}

#[async_trait]
impl EventHandler for Reactor {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if !self.listens(&event.event_type) {
            return Ok(());
        }
        let Some(id) = order_id(event) else {
            return Ok(());
        };
        // A reaction to a failure or a cancellation undoes something: it is a compensation.
        let compensates = matches!(
            event.event_type.as_str(),
            "PaymentDeclined" | "OrderCancelled"
        );
        let span = if compensates {
            tracing::info_span!("ecommerce.compensate", role = ?self.role, trigger = %event.event_type, order = id)
        } else {
            tracing::info_span!("ecommerce.react", role = ?self.role, trigger = %event.event_type, order = id)
        };
        keel::telemetry::set_parent_from_metadata(&span, &event.metadata);
        let meta = Metadata {
            correlation_id: event.metadata.correlation_id,
            causation_id: Some(event.event_id),
            ..Metadata::default()
        };
        self.react(event, id, &meta).instrument(span).await
    }
}
