//! `ecommerce saga`: the orchestrator. It starts an `order-fulfilment` saga for each submitted
//! order and an `order-cancellation` saga for each order the customer cancelled ([`starter`],
//! following the event store with its own checkpoint), runs them with the coordinator (state in
//! PostgreSQL, commands and replies over Kafka), and is itself the `orders` participant that
//! confirms or cancels the Order aggregate.

pub mod starter;

use std::sync::Arc;

use async_trait::async_trait;
use keel::sagas::kafka::{KafkaTransport, consume_replies, serve_participant};
use keel::sagas::store::PostgresSagaStore;
use keel::sagas::{CommandEnvelope, CommandHandler, Coordinator, Participant, ReplyOutcome, Saga};
use keel::store::PostgresStore;
use keel::{Metadata, Repository};
use serde_json::Value;

use super::participants::{execute, failed, kafka_config};
use crate::domain::order::{Order, OrderCommand, OrderError};
use crate::domain::payment::Payment;
use crate::domain::streams;
use crate::sagas::{OrderCancellation, OrderFulfilment};
use crate::settings::Settings;
use crate::store::Batched;
use starter::Starter;

/// The coordinator of the example's sagas.
pub type SagaCoordinator = Coordinator<PostgresSagaStore, KafkaTransport>;

/// Runs the orchestrator until `shutdown`.
pub async fn run(
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> crate::Result<()> {
    let store = crate::store::connect(settings).await?;
    let saga_store = PostgresSagaStore::from_pool(store.pool().clone()).await?;
    let config = kafka_config(settings);
    let coordinator = Arc::new(
        Coordinator::new(saga_store.clone(), KafkaTransport::new(config.clone())?)
            .register(OrderFulfilment::definition())?
            .register(OrderCancellation::definition())?,
    );
    let group = settings.names().group_prefix;
    let (orders_group, saga_group) = (format!("{group}orders"), format!("{group}saga"));
    let orders = Participant::new("orders", OrdersHandler::new(store.clone()), saga_store);
    let starter = Starter {
        coordinator: Arc::clone(&coordinator),
        orders: crate::store::orders(store.clone()),
        store: store.clone(),
    };
    let never = std::future::pending::<()>;
    tokio::select! {
        () = shutdown => Ok(()),
        done = serve_participant(Arc::new(orders), &config, &orders_group, never()) => Ok(done?),
        done = consume_replies(Arc::clone(&coordinator), &config, &saga_group, never()) => Ok(done?),
        done = coordinator.run_deadlines(never()) => Ok(done?),
        done = starter.run() => done,
    }
}

/// The `orders` participant: the saga's effect on the Order aggregate.
struct OrdersHandler {
    orders: Batched<Order>,
    payments: Repository<Payment, PostgresStore>,
}

impl OrdersHandler {
    fn new(store: PostgresStore) -> Self {
        Self {
            orders: Batched::new(store.clone(), crate::store::ORDER_SNAPSHOTS),
            payments: crate::store::payments(store),
        }
    }

    /// Why the fulfilment failed, as the stores tell it.
    async fn failure_reason(&self, order_id: i64) -> keel::sagas::Result<String> {
        let payment = self
            .payments
            .load(&streams::payment(order_id))
            .await
            .map_err(|e| failed("orders", e))?;
        Ok(match payment.state.declined {
            Some(reason) => format!("payment declined: {reason}"),
            None => "not fulfilled: inventory unavailable or a step timed out".into(),
        })
    }
}

#[async_trait]
impl CommandHandler for OrdersHandler {
    async fn handle(&self, command: &CommandEnvelope) -> keel::sagas::Result<ReplyOutcome> {
        let order_id = command
            .payload
            .get("order_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| failed("orders", "a command without `order_id`"))?;
        let stream = streams::order(order_id);
        let ok = ReplyOutcome::Success { data: Value::Null };
        match command.command_type.as_str() {
            "StartFulfilment" => Ok(ok),
            "ConfirmOrder" => Ok(
                match execute(
                    &self.orders,
                    &stream,
                    OrderCommand::Confirm,
                    &Metadata::default(),
                )
                .await?
                {
                    Ok(_) => ok,
                    Err(OrderError::Cancelled(reason)) => ReplyOutcome::Failure {
                        reason: format!("order was cancelled ({reason})"),
                    },
                    Err(error) => ReplyOutcome::Failure {
                        reason: error.to_string(),
                    },
                },
            ),
            "CancelOrder" => {
                let reason = self.failure_reason(order_id).await?;
                let _ = execute(
                    &self.orders,
                    &stream,
                    OrderCommand::Cancel(reason),
                    &Metadata::default(),
                )
                .await?;
                Ok(ok)
            }
            other => Err(failed("orders", format!("no command `{other}`"))),
        }
    }
}
