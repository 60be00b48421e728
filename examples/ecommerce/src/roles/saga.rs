//! `ecommerce saga`: the orchestrator. It starts an `order-fulfilment` saga for each submitted
//! order and an `order-cancellation` saga for each order the customer cancelled (a subscription
//! to the event store with its own checkpoint), runs them with the coordinator (state in
//! PostgreSQL, commands and replies over Kafka), and is itself the `orders` participant that
//! confirms or cancels the Order aggregate.

use std::sync::Arc;

use async_trait::async_trait;
use keel::kafka::HandlerError;
use keel::sagas::kafka::{KafkaTransport, consume_replies};
use keel::sagas::store::PostgresSagaStore;
use keel::sagas::{CommandEnvelope, CommandHandler, Coordinator, Participant, ReplyOutcome, Saga};
use keel::store::PostgresStore;
use keel::subscription::{EventHandler, Subscription};
use keel::{Metadata, RecordedEvent, Repository};
use serde_json::Value;

use super::participants::{execute, failed, kafka_config, serve};
use crate::domain::order::{CUSTOMER, Order, OrderCommand, OrderError, OrderEvent};
use crate::domain::payment::Payment;
use crate::domain::streams;
use crate::sagas::{OrderCancellation, OrderFulfilment, saga_id};
use crate::settings::Settings;

type SagaCoordinator = Coordinator<PostgresSagaStore, KafkaTransport>;

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
    let subscription = Subscription::new(store.clone(), "saga-starter");
    let mut starter = Starter {
        coordinator: Arc::clone(&coordinator),
        orders: crate::store::orders(store.clone()),
    };
    let never = std::future::pending::<()>;
    // One reply consumer per partition (replies are keyed by saga id).
    let replies = (0..crate::settings::PARTITIONS)
        .map(|_| consume_replies(Arc::clone(&coordinator), &config, &saga_group, never()));
    tokio::select! {
        () = shutdown => Ok(()),
        done = serve(Arc::new(orders), &config, &orders_group, never()) => Ok(done?),
        done = futures::future::try_join_all(replies) => done.map(|_| ()).map_err(Into::into),
        done = coordinator.run_deadlines(never()) => Ok(done?),
        done = subscription.run(&mut starter, never()) => Ok(done?),
    }
}

/// Starts sagas from order events.
struct Starter {
    coordinator: Arc<SagaCoordinator>,
    orders: Repository<Order, PostgresStore>,
}

impl Starter {
    async fn start<D: Saga>(
        &self,
        order_id: i64,
        data: &D,
        event: &RecordedEvent,
    ) -> keel::sagas::Result<()> {
        let id = saga_id(order_id);
        if self
            .coordinator
            .instance(D::SAGA_TYPE, &id)
            .await?
            .is_none()
        {
            self.coordinator
                .start_saga(&id, data, &event.metadata)
                .await?;
        }
        Ok(())
    }

    async fn on(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(order_id) = event
            .stream_id
            .strip_prefix("order-")
            .and_then(|id| id.parse::<i64>().ok())
        else {
            return Ok(());
        };
        let retry = |e: keel::sagas::Error| HandlerError::retryable(e);
        match event.event_type.as_str() {
            "OrderSubmitted" => {
                let OrderEvent::OrderSubmitted {
                    customer_id,
                    lines,
                    total_cents,
                } = decode(event)?
                else {
                    return Ok(());
                };
                self.start(
                    order_id,
                    &OrderFulfilment {
                        order_id,
                        customer_id,
                        lines,
                        total_cents,
                    },
                    event,
                )
                .await
                .map_err(retry)
            }
            "OrderCancelled" => {
                let OrderEvent::OrderCancelled { reason } = decode(event)? else {
                    return Ok(());
                };
                if reason != CUSTOMER {
                    return Ok(()); // the fulfilment saga cancelled it, after compensating
                }
                let order = self
                    .orders
                    .load(&event.stream_id)
                    .await
                    .map_err(HandlerError::from)?
                    .state;
                let data = OrderCancellation {
                    order_id,
                    customer_id: order.customer_id,
                    lines: order.lines,
                    total_cents: order.total_cents,
                };
                self.start(order_id, &data, event).await.map_err(retry)
            }
            _ => Ok(()),
        }
    }
}

fn decode(event: &RecordedEvent) -> Result<OrderEvent, HandlerError> {
    crate::domain::decode(event).map_err(HandlerError::permanent)
}

#[async_trait]
impl EventHandler for Starter {
    async fn handle(
        &mut self,
        event: &RecordedEvent,
    ) -> Result<(), keel::subscription::HandlerError> {
        Ok(self.on(event).await?)
    }
}

/// The `orders` participant: the saga's effect on the Order aggregate.
struct OrdersHandler {
    orders: Repository<Order, PostgresStore>,
    payments: Repository<Payment, PostgresStore>,
}

impl OrdersHandler {
    fn new(store: PostgresStore) -> Self {
        Self {
            orders: crate::store::orders(store.clone()),
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
