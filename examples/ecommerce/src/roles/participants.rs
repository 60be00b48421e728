//! `ecommerce inventory` and `ecommerce payment`: the saga's participants. Each owns its
//! aggregates in the event store, answers commands from its Kafka topic, and deduplicates them
//! through its inbox. Their decisions are also idempotent in the aggregates themselves
//! (a reservation or a capture per order at most once), so a command that took effect but
//! whose inbox row was lost to a crash does nothing the second time.
//!
//! Commands run concurrently (different sagas) and write through [`Batched`]: the
//! reservations of one product that arrive together are decided on one state and appended at
//! once, and the inventory participant, which writes its 40 product streams nearly alone,
//! keeps their states in memory instead of loading them for every reservation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keel::sagas::kafka::{KafkaSagaConfig, serve_participant};
use keel::sagas::store::PostgresSagaStore;
use keel::sagas::{CommandEnvelope, CommandHandler, Participant, ReplyOutcome};
use keel::store::PostgresStore;
use keel::{Aggregate, Metadata, Repository, SnapshotPolicy};
use serde_json::Value;

use crate::domain::customer::Customer;
use crate::domain::inventory::{Inventory, InventoryCommand, InventoryError};
use crate::domain::order::Line;
use crate::domain::payment::{Payment, PaymentCommand};
use crate::domain::streams;
use crate::sagas::OrderFulfilment;
use crate::settings::Settings;
use crate::store::{Batched, Refused};

/// Runs participant `name` (`inventory` or `payment`) until `shutdown`.
pub async fn run(
    settings: &Settings,
    name: &str,
    shutdown: impl std::future::Future,
) -> crate::Result<()> {
    let store = crate::store::connect(settings).await?;
    let inbox = PostgresSagaStore::from_pool(store.pool().clone()).await?;
    let config = kafka_config(settings);
    let group = format!("{}{name}", settings.names().group_prefix);
    match name {
        "inventory" => {
            let handler = InventoryHandler {
                inventory: inventory_writer(store),
            };
            serve_participant(
                Arc::new(Participant::new(name, handler, inbox)),
                &config,
                &group,
                shutdown,
            )
            .await?;
        }
        "payment" => {
            let handler = PaymentHandler {
                payments: Batched::new(store.clone(), SnapshotPolicy::never()),
                credit_limits: CreditLimits::new(store),
            };
            serve_participant(
                Arc::new(Participant::new(name, handler, inbox)),
                &config,
                &group,
                shutdown,
            )
            .await?;
        }
        other => return Err(format!("no participant named `{other}`").into()),
    }
    Ok(())
}

/// Commands (or replies) a role's one consumer handles at once, across its partitions: one
/// librdkafka client per role, not one per partition, each of which costs threads, a
/// connection and its own fetches on the broker (ADR 0049).
const SAGA_IN_FLIGHT: usize = 256;

/// The saga topics of this deployment. Consumers give up a killed member's partitions after
/// 6 s (librdkafka's default is 45 s), well under a step's timeout.
pub fn kafka_config(settings: &Settings) -> KafkaSagaConfig {
    let names = settings.names();
    KafkaSagaConfig::new(
        &settings.kafka,
        names.command_topic_prefix,
        names.reply_topic,
    )
    .with_consumer_property("session.timeout.ms", "6000")
    .with_consumer_property("heartbeat.interval.ms", "1000")
    .with_max_in_flight(SAGA_IN_FLIGHT)
}

fn data(command: &CommandEnvelope) -> keel::sagas::Result<OrderFulfilment> {
    serde_json::from_value(command.payload.clone()).map_err(|source| {
        keel::sagas::Error::Serialize {
            what: format!(
                "the payload of {} for `{}`",
                command.command_type, command.saga_id
            ),
            source,
        }
    })
}

/// An infrastructure failure of participant `participant`: the command comes again.
pub fn failed(participant: &str, reason: impl std::fmt::Display) -> keel::sagas::Error {
    keel::sagas::Error::Handler {
        participant: participant.to_owned(),
        reason: reason.to_string(),
    }
}

/// The inventory participant's writer: it keeps its product streams' states in memory.
pub fn inventory_writer(store: PostgresStore) -> Batched<Inventory> {
    Batched::new(store, crate::store::INVENTORY_SNAPSHOTS).keeping_state()
}

/// Executes `command` with the commands queued for the same stream: the state after it, or
/// the aggregate's refusal; a store failure is an infrastructure error (the command comes
/// again).
pub async fn execute<A: Aggregate + Clone>(
    writer: &Batched<A>,
    stream: &str,
    command: A::Command,
    metadata: &Metadata,
) -> keel::sagas::Result<Result<Arc<A>, A::Error>>
where
    A::Command: Clone,
{
    match writer.execute(stream, command, metadata.clone()).await {
        Ok(done) => Ok(Ok(done.state)),
        Err(Refused::Rejected(error)) => Ok(Err(error)),
        Err(error) => Err(failed(A::TYPE, error)),
    }
}

struct InventoryHandler {
    inventory: Batched<Inventory>,
}

#[async_trait]
impl CommandHandler for InventoryHandler {
    async fn handle(&self, command: &CommandEnvelope) -> keel::sagas::Result<ReplyOutcome> {
        let order = data(command)?;
        let none = Metadata::default();
        match command.command_type.as_str() {
            "ReserveInventory" => Ok(
                match reserve_lines(&self.inventory, order.order_id, &order.lines, &none).await? {
                    Ok(()) => ReplyOutcome::Success { data: Value::Null },
                    Err(reason) => ReplyOutcome::Failure { reason },
                },
            ),
            "ReleaseInventory" => {
                release_lines(&self.inventory, order.order_id, &order.lines, &none).await?;
                Ok(ReplyOutcome::Success { data: Value::Null })
            }
            other => Err(failed("inventory", format!("no command `{other}`"))),
        }
    }
}

/// Holds every line of order `order_id` on its product's stock, or none: the lines are
/// reserved concurrently, and when one cannot be held, the lines that were are returned and the
/// reason is given. Holding twice holds nothing more.
pub async fn reserve_lines(
    inventory: &Batched<Inventory>,
    order_id: i64,
    lines: &[Line],
    metadata: &Metadata,
) -> keel::sagas::Result<Result<(), String>> {
    let reserve = |line: &Line| {
        let command = InventoryCommand::Reserve {
            order_id,
            quantity: line.quantity,
        };
        let stream = streams::inventory(line.product_id);
        async move { execute(inventory, &stream, command, metadata).await }
    };
    let outcomes = futures::future::join_all(lines.iter().map(reserve)).await;
    let mut held = Vec::new();
    let mut refusal = None;
    for (line, outcome) in lines.iter().zip(outcomes) {
        match outcome {
            Ok(Ok(_)) => held.push(line.clone()),
            Ok(Err(InventoryError::Insufficient { wanted, available })) => {
                refusal.get_or_insert(format!(
                    "insufficient stock of product {}: {wanted} wanted, {available} available",
                    line.product_id
                ));
            }
            Err(error) => {
                // Return what was held before the command comes again.
                release_lines(inventory, order_id, &held, metadata).await?;
                return Err(error);
            }
        }
    }
    match refusal {
        None => Ok(Ok(())),
        Some(reason) => {
            release_lines(inventory, order_id, &held, metadata).await?;
            Ok(Err(reason))
        }
    }
}

/// Returns what order `order_id` holds of each line's product (nothing when it holds nothing).
pub async fn release_lines(
    inventory: &Batched<Inventory>,
    order_id: i64,
    lines: &[Line],
    metadata: &Metadata,
) -> keel::sagas::Result<()> {
    let release = |line: &Line| {
        let command = InventoryCommand::Release { order_id };
        let stream = streams::inventory(line.product_id);
        async move { execute(inventory, &stream, command, metadata).await }
    };
    for outcome in futures::future::join_all(lines.iter().map(release)).await {
        let _ = outcome?;
    }
    Ok(())
}

struct PaymentHandler {
    payments: Batched<Payment>,
    credit_limits: CreditLimits,
}

/// Customers' credit limits. A customer's limit is part of its registration (the `Customer`
/// aggregate records no change of it), so it is read once per customer and kept.
pub struct CreditLimits {
    customers: Repository<Customer, PostgresStore>,
    known: Mutex<HashMap<i64, i64>>,
}

impl CreditLimits {
    /// The limits of the customers in `store`.
    pub fn new(store: PostgresStore) -> Self {
        Self {
            customers: Repository::new(store),
            known: Mutex::default(),
        }
    }

    /// Customer `id`'s credit limit, in cents (0 for a customer not registered yet).
    pub async fn of(&self, id: i64) -> keel::Result<i64> {
        let known = |limits: &Mutex<HashMap<i64, i64>>| {
            limits
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&id)
                .copied()
        };
        if let Some(limit) = known(&self.known) {
            return Ok(limit);
        }
        let customer = self.customers.load(&streams::customer(id)).await?.state;
        if customer.registered {
            self.known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, customer.credit_limit_cents);
        }
        Ok(customer.credit_limit_cents)
    }
}

#[async_trait]
impl CommandHandler for PaymentHandler {
    async fn handle(&self, command: &CommandEnvelope) -> keel::sagas::Result<ReplyOutcome> {
        let order = data(command)?;
        let stream = streams::payment(order.order_id);
        match command.command_type.as_str() {
            "CapturePayment" => {
                let credit_limit_cents = self
                    .credit_limits
                    .of(order.customer_id)
                    .await
                    .map_err(|e| failed("payment", e))?;
                let capture = PaymentCommand::Capture {
                    customer_id: order.customer_id,
                    amount_cents: order.total_cents,
                    credit_limit_cents,
                };
                let Ok(payment) =
                    execute(&self.payments, &stream, capture, &Metadata::default()).await?;
                Ok(match &payment.declined {
                    Some(reason) => ReplyOutcome::Failure {
                        reason: format!("payment declined: {reason}"),
                    },
                    None => ReplyOutcome::Success { data: Value::Null },
                })
            }
            "RefundPayment" => {
                let Ok(_) = execute(
                    &self.payments,
                    &stream,
                    PaymentCommand::Refund,
                    &Metadata::default(),
                )
                .await?;
                Ok(ReplyOutcome::Success { data: Value::Null })
            }
            other => Err(failed("payment", format!("no command `{other}`"))),
        }
    }
}
