//! `ecommerce inventory` and `ecommerce payment`: the saga's participants. Each owns its
//! aggregates in the event store, answers commands from its Kafka topic, and deduplicates them
//! through its inbox. Their decisions are also idempotent in the aggregates themselves
//! (a reservation or a capture per order at most once), so a command that took effect but
//! whose inbox row was lost to a crash does nothing the second time.

use std::sync::Arc;

use async_trait::async_trait;
use keel::sagas::kafka::{KafkaSagaConfig, serve_participant};
use keel::sagas::store::PostgresSagaStore;
use keel::sagas::{CommandEnvelope, CommandHandler, Participant, ReplyOutcome};
use keel::store::PostgresStore;
use keel::{Aggregate, CommandError, Metadata, Repository};
use serde_json::Value;

use crate::domain::customer::Customer;
use crate::domain::inventory::{Inventory, InventoryCommand, InventoryError};
use crate::domain::order::Line;
use crate::domain::payment::{Payment, PaymentCommand};
use crate::domain::streams;
use crate::sagas::OrderFulfilment;
use crate::settings::Settings;

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
                inventory: crate::store::inventory(store),
            };
            serve(
                Arc::new(Participant::new(name, handler, inbox)),
                &config,
                &group,
                shutdown,
            )
            .await?;
        }
        "payment" => {
            let handler = PaymentHandler {
                payments: crate::store::payments(store.clone()),
                customers: Repository::new(store),
            };
            serve(
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

/// Serves `participant` with one consumer per partition of its command topic until `shutdown`.
pub async fn serve<H: CommandHandler, I: keel::sagas::store::InboxStore>(
    participant: Arc<Participant<H, I>>,
    config: &KafkaSagaConfig,
    group: &str,
    shutdown: impl std::future::Future,
) -> keel::sagas::Result<()> {
    let consumers = (0..crate::settings::PARTITIONS).map(|_| {
        serve_participant(
            Arc::clone(&participant),
            config,
            group,
            std::future::pending::<()>(),
        )
    });
    tokio::select! {
        _ = shutdown => Ok(()),
        done = futures::future::try_join_all(consumers) => done.map(|_| ()),
    }
}

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

/// Executes `command`, loading again after a conflict (another command on the same stream).
pub async fn execute<A: Aggregate>(
    repo: &Repository<A, PostgresStore>,
    stream: &str,
    command: A::Command,
    metadata: &Metadata,
) -> keel::sagas::Result<Result<A, A::Error>>
where
    A::Command: Clone,
{
    match crate::store::execute_retrying(repo, stream, command, metadata, 10).await {
        Ok(done) => Ok(Ok(done.state)),
        Err(CommandError::Rejected(error)) => Ok(Err(error)),
        Err(error) => Err(failed(A::TYPE, error)),
    }
}

struct InventoryHandler {
    inventory: Repository<Inventory, PostgresStore>,
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

/// Holds every line of order `order_id` on its product's stock, or none: when one line cannot
/// be held, the lines held before it are returned and the reason is given. Holding twice holds
/// nothing more.
pub async fn reserve_lines(
    inventory: &Repository<Inventory, PostgresStore>,
    order_id: i64,
    lines: &[Line],
    metadata: &Metadata,
) -> keel::sagas::Result<Result<(), String>> {
    for (i, line) in lines.iter().enumerate() {
        let reserve = InventoryCommand::Reserve {
            order_id,
            quantity: line.quantity,
        };
        if let Err(InventoryError::Insufficient { wanted, available }) = execute(
            inventory,
            &streams::inventory(line.product_id),
            reserve,
            metadata,
        )
        .await?
        {
            release_lines(inventory, order_id, &lines[..i], metadata).await?;
            return Ok(Err(format!(
                "insufficient stock of product {}: {wanted} wanted, {available} available",
                line.product_id
            )));
        }
    }
    Ok(Ok(()))
}

/// Returns what order `order_id` holds of each line's product (nothing when it holds nothing).
pub async fn release_lines(
    inventory: &Repository<Inventory, PostgresStore>,
    order_id: i64,
    lines: &[Line],
    metadata: &Metadata,
) -> keel::sagas::Result<()> {
    for line in lines {
        let release = InventoryCommand::Release { order_id };
        let _ = execute(
            inventory,
            &streams::inventory(line.product_id),
            release,
            metadata,
        )
        .await?;
    }
    Ok(())
}

struct PaymentHandler {
    payments: Repository<Payment, PostgresStore>,
    customers: Repository<Customer, PostgresStore>,
}

#[async_trait]
impl CommandHandler for PaymentHandler {
    async fn handle(&self, command: &CommandEnvelope) -> keel::sagas::Result<ReplyOutcome> {
        let order = data(command)?;
        let stream = streams::payment(order.order_id);
        match command.command_type.as_str() {
            "CapturePayment" => {
                let customer = self
                    .customers
                    .load(&streams::customer(order.customer_id))
                    .await
                    .map_err(|e| failed("payment", e))?;
                let capture = PaymentCommand::Capture {
                    customer_id: order.customer_id,
                    amount_cents: order.total_cents,
                    credit_limit_cents: customer.state.credit_limit_cents,
                };
                let Ok(payment) =
                    execute(&self.payments, &stream, capture, &Metadata::default()).await?;
                Ok(match payment.declined {
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
