//! `--saga choreography`: no coordinator. Each participant declares its steps with
//! `#[derive(Choreography)]` and follows the event store with a subscription of its own:
//!
//! ```text
//! OrderSubmitted ─inventory→ InventoryReserved ─payment→ PaymentCaptured ─orders→ OrderConfirmed
//!                └────────→ InventoryRejected ─orders→ OrderCancelled
//!                           PaymentDeclined ─inventory→ InventoryReleased, ─orders→ OrderCancelled
//! OrderCancelled (by the customer) ─inventory→ InventoryReleased, ─payment→ PaymentRefunded
//! ```
//!
//! Reactions record their events through the aggregates with the trigger's metadata (the
//! order's correlation id, the trigger as cause) inside the reaction's span, so one order is one
//! trace. The aggregates decide each thing once per order (a reservation, a capture, a refund),
//! so a trigger handled again after a crash records nothing. The `saga` role also keeps the
//! saga view, table `keel_choreography_instances`, in the event store's database.

use futures::FutureExt;
use keel::Choreography;
use keel::sagas::choreography::{
    self, Outcome, Poison, PostgresChoreographyView, Reactor, Trigger,
};
use keel::store::PostgresStore;
use keel::subscription::{HandlerError, Subscription};
use keel::{Aggregate, CommandError, Repository};

use super::participants::{CreditLimits, inventory_writer, release_lines, reserve_lines};
use crate::domain::inventory::Inventory;
use crate::domain::order::{CUSTOMER, Order, OrderCommand, OrderEvent, Status};
use crate::domain::payment::{Payment, PaymentCommand, PaymentEvent};
use crate::domain::reservation::{
    Reservation, ReservationCommand, ReservationEvent, ReservationStatus,
};
use crate::domain::streams;
use crate::settings::Settings;
use crate::store::Batched;

/// The subscription that keeps the saga view.
pub const VIEW_SUBSCRIPTION: &str = "choreography:order-fulfilment:view";

/// Inventory holds a submitted order's lines (or records why not) and returns them when the
/// payment is declined or the customer cancels.
#[derive(Choreography)]
#[choreography(name = "order-fulfilment", participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderSubmitted", handler = Self::reserve,
    emits = "InventoryReserved", fails = "InventoryRejected",
    compensation(on = ["PaymentDeclined", "OrderCancelled"], handler = Self::release,
                 emits = "InventoryReleased")))]
pub struct InventoryReactions {
    orders: Repository<Order, PostgresStore>,
    inventory: Batched<Inventory>,
    reservations: Repository<Reservation, PostgresStore>,
}

/// Payment charges a reserved order (declined over the customer's limit, or when cancelled
/// meanwhile) and refunds an order the customer cancelled.
#[derive(Choreography)]
#[choreography(name = "order-fulfilment", participant = "payment")]
#[choreography(step(name = "capture", on = "InventoryReserved", handler = Self::capture,
    emits = "PaymentCaptured", fails = "PaymentDeclined",
    compensation(on = "OrderCancelled", handler = Self::refund, emits = "PaymentRefunded")))]
pub struct PaymentReactions {
    orders: Repository<Order, PostgresStore>,
    payments: Repository<Payment, PostgresStore>,
    credit_limits: CreditLimits,
}

/// Orders: the translator submits an order (the start); a paid one is confirmed, one whose
/// stock or payment failed is cancelled.
#[derive(Choreography)]
#[choreography(name = "order-fulfilment", participant = "orders")]
#[choreography(step(name = "submit", emits = "OrderSubmitted",
    compensation(on = ["InventoryRejected", "PaymentDeclined"], handler = Self::cancel,
                 emits = "OrderCancelled")))]
#[choreography(step(name = "confirm", on = "PaymentCaptured", handler = Self::confirm,
    emits = "OrderConfirmed"))]
pub struct OrderReactions {
    orders: Repository<Order, PostgresStore>,
}

/// The whole choreography, as the saga view reads it.
pub fn definition() -> choreography::Choreography {
    choreography::Choreography::new("order-fulfilment")
        .with::<OrderReactions>()
        .with::<InventoryReactions>()
        .with::<PaymentReactions>()
}

/// The saga view in the event store's database.
pub async fn view(store: &PostgresStore) -> crate::Result<PostgresChoreographyView> {
    Ok(PostgresChoreographyView::from_pool(store.pool().clone(), definition()).await?)
}

/// The subscriptions of the reactors and of the view.
pub fn subscriptions() -> Vec<String> {
    vec![
        Reactor::<InventoryReactions, PostgresStore>::subscription_name(),
        Reactor::<PaymentReactions, PostgresStore>::subscription_name(),
        Reactor::<OrderReactions, PostgresStore>::subscription_name(),
        VIEW_SUBSCRIPTION.to_owned(),
    ]
}

/// Runs the reactor of `role` (`inventory`, `payment`, or `orders` with the saga view) until
/// `shutdown`.
pub async fn run(
    settings: &Settings,
    role: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> crate::Result<()> {
    let store = crate::store::connect(settings).await?;
    match role {
        "inventory" => {
            let inventory = InventoryReactions {
                orders: crate::store::orders(store.clone()),
                inventory: inventory_writer(store.clone()),
                reservations: Repository::new(store.clone()),
            };
            Reactor::new(inventory, store).run(shutdown).await?;
        }
        "payment" => {
            let payment = PaymentReactions {
                orders: crate::store::orders(store.clone()),
                payments: crate::store::payments(store.clone()),
                credit_limits: CreditLimits::new(store.clone()),
            };
            Reactor::new(payment, store).run(shutdown).await?;
        }
        "orders" => {
            let shutdown = shutdown.shared();
            let orders = OrderReactions {
                orders: crate::store::orders(store.clone()),
            };
            let mut view = view(&store).await?;
            let keep_view = Subscription::new(store.clone(), VIEW_SUBSCRIPTION);
            let react = Reactor::new(orders, store.clone()).run(shutdown.clone());
            let (kept, reacted) =
                tokio::join!(keep_view.run_transactional(&mut view, shutdown), react);
            kept?;
            reacted?;
        }
        other => return Err(format!("no reactor named `{other}`").into()),
    }
    Ok(())
}

/// The order id of a stream `<prefix>-<id>`; a trigger on another stream is poison (it is
/// dead-lettered, not retried).
fn order_id(trigger: &Trigger<'_>) -> Result<i64, HandlerError> {
    let stream = trigger.stream_id();
    stream
        .rsplit_once('-')
        .and_then(|(_, id)| id.parse().ok())
        .ok_or_else(|| Poison::new(format!("`{stream}` names no order")).into())
}

/// Whether the trigger is the customer's own cancellation.
fn customer_cancelled(trigger: &Trigger<'_>) -> Result<bool, HandlerError> {
    Ok(matches!(trigger.decode()?, OrderEvent::OrderCancelled { reason } if reason == CUSTOMER))
}

/// Executes `command` with the trigger's metadata; the outcome is the events recorded (none
/// when the aggregate had nothing to do or refused).
async fn record<A: Aggregate>(
    repo: &Repository<A, PostgresStore>,
    stream: &str,
    command: A::Command,
    trigger: &Trigger<'_>,
) -> Result<Outcome, HandlerError>
where
    A::Command: Clone,
{
    match crate::store::execute_retrying(repo, stream, command, trigger.metadata(), 10).await {
        Ok(done) => Ok(Outcome::recorded(done.events)),
        Err(CommandError::Rejected(_)) => Ok(Outcome::nothing()),
        Err(error) => Err(error.to_string().into()),
    }
}

impl InventoryReactions {
    async fn reserve(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let (id, OrderEvent::OrderSubmitted { lines, .. }) =
            (order_id(trigger)?, trigger.decode()?)
        else {
            return Ok(Outcome::nothing());
        };
        let stream = streams::reservation(id);
        if self.reservations.load(&stream).await?.state.status != ReservationStatus::None {
            return Ok(Outcome::nothing()); // decided before a crash
        }
        let decided = match reserve_lines(&self.inventory, id, &lines, trigger.metadata()).await? {
            Ok(()) => ReservationCommand::Reserved(lines),
            Err(reason) => ReservationCommand::Rejected(reason),
        };
        record(&self.reservations, &stream, decided, trigger).await
    }

    async fn release(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        if trigger.event_type() == "OrderCancelled" && !customer_cancelled(trigger)? {
            return Ok(Outcome::nothing()); // cancelled after a decline: released on the decline
        }
        let id = order_id(trigger)?;
        let order = self.orders.load(&streams::order(id)).await?.state;
        release_lines(&self.inventory, id, &order.lines, trigger.metadata()).await?;
        let command = ReservationCommand::Released;
        record(
            &self.reservations,
            &streams::reservation(id),
            command,
            trigger,
        )
        .await
    }
}

impl PaymentReactions {
    async fn capture(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let id = order_id(trigger)?;
        let order = self.orders.load(&streams::order(id)).await?.state;
        let command = if order.status == Status::Cancelled {
            PaymentCommand::Decline("the order was cancelled".into())
        } else {
            PaymentCommand::Capture {
                customer_id: order.customer_id,
                amount_cents: order.total_cents,
                credit_limit_cents: self.credit_limits.of(order.customer_id).await?,
            }
        };
        record(&self.payments, &streams::payment(id), command, trigger).await
    }

    async fn refund(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        if !customer_cancelled(trigger)? {
            return Ok(Outcome::nothing()); // cancelled after a decline: nothing was captured
        }
        let stream = streams::payment(order_id(trigger)?);
        record(&self.payments, &stream, PaymentCommand::Refund, trigger).await
    }
}

impl OrderReactions {
    async fn confirm(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let stream = streams::order(order_id(trigger)?);
        record(&self.orders, &stream, OrderCommand::Confirm, trigger).await
    }

    async fn cancel(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let reason = match trigger.event_type() {
            "PaymentDeclined" => match trigger.decode()? {
                PaymentEvent::PaymentDeclined { reason, .. } => {
                    format!("payment declined: {reason}")
                }
                _ => return Ok(Outcome::nothing()),
            },
            _ => match trigger.decode()? {
                ReservationEvent::InventoryRejected { reason } => reason,
                _ => return Ok(Outcome::nothing()),
            },
        };
        let stream = streams::order(order_id(trigger)?);
        record(&self.orders, &stream, OrderCommand::Cancel(reason), trigger).await
    }
}
