//! `ecommerce translate`: change events from capture become domain events.
//!
//! One consumer reads the four table topics, handling changes of different rows concurrently
//! (one row's changes in order). Each change is one command on one aggregate,
//! with the change's binlog position as `metadata.source`, so its event ids are deterministic
//! and a re-delivered change appends nothing. Commands to the same stream are batched
//! ([`store::Batched`]): an order's row and its items, which arrive together, are decided on
//! one load and appended in one append. An order's row and its item rows arrive on different
//! topics in any order; the `Order` aggregate submits the order once it has the row and
//! `item_count` items. A record that is not a change event goes to `<topic>.dlq` with its reason.

pub mod change;
pub mod traces;

use std::time::Duration;

use keel::kafka::{ConsumedMessage, ConsumerConfig, HandlerError, KafkaConsumer, MessageHandler};
use keel::store::PostgresStore;
use keel::{Aggregate, Metadata, SnapshotPolicy};
use tracing::Instrument;

pub use change::Change;

use crate::domain::customer::{Customer, CustomerRow};
use crate::domain::inventory::{Inventory, InventoryCommand};
use crate::domain::order::{Line, Order, OrderCommand};
use crate::domain::streams;
use crate::settings::Settings;
use crate::store::{self, Batched, Refused};
use traces::OrderTraces;

/// Changes handled at once by the role's one consumer, across its partitions. A change waits
/// mostly for the event store (its batch's load and append, behind other roles' writes), so
/// the consumer's throughput is about this many over that wait: with 64 per partition, 200
/// orders/s (some 750 changes/s) queued for seconds before their handler started.
const IN_FLIGHT: usize = 1024;

/// Turns change events into commands on the aggregates.
pub struct Translator {
    orders: Batched<Order>,
    customers: Batched<Customer>,
    inventory: Batched<Inventory>,
    traces: OrderTraces,
}

/// Runs the translator until `shutdown`.
pub async fn run(
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> crate::Result<()> {
    let names = settings.names();
    let store = store::connect(settings).await?;
    let topics: Vec<String> = crate::legacy::schema::TABLES
        .iter()
        .map(|t| names.table_topic(t))
        .collect();
    let mut config = ConsumerConfig::new(
        &settings.kafka,
        format!("{}translate", names.group_prefix),
        topics,
    );
    // A restarted translator takes its partitions back 6 s after a crash, not librdkafka's 45 s.
    config
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    config
        .properties
        .insert("heartbeat.interval.ms".into(), "1000".into());
    config.max_in_flight = IN_FLIGHT;
    Ok(KafkaConsumer::new(config)?
        .run(Translator::new(store), shutdown)
        .await?)
}

impl Translator {
    /// A translator writing to `store`.
    pub fn new(store: PostgresStore) -> Self {
        Self {
            // An order's row and its items come from two topics a few milliseconds apart.
            // An order's later changes (items that missed the first batch, address changes,
            // a cancellation) start from the state its last batch left.
            orders: Batched::new(store.clone(), store::ORDER_SNAPSHOTS)
                .lingering(Duration::from_millis(5))
                .keeping_state(),
            customers: Batched::new(store.clone(), SnapshotPolicy::never()),
            inventory: Batched::new(store.clone(), store::INVENTORY_SNAPSHOTS),
            traces: OrderTraces::new(store),
        }
    }

    async fn translate(&self, change: &Change, key: Option<&str>) -> Result<(), HandlerError> {
        let meta = Metadata {
            source: Some(change.position(key)),
            ..Metadata::default()
        };
        let row = change.row().map_err(HandlerError::permanent)?;
        let bad = HandlerError::permanent;
        match change.source.table.as_str() {
            "orders" => {
                let id = row.int("id").map_err(bad)?;
                let command = match change.before() {
                    None => OrderCommand::Place {
                        customer_id: row.int("customer_id").map_err(bad)?,
                        shipping_address: row.text("shipping_address").map_err(bad)?,
                        total_cents: row.cents("total").map_err(bad)?,
                        item_count: row.int("item_count").map_err(bad)?,
                    },
                    Some(_) => OrderCommand::Amend {
                        shipping_address: row.text("shipping_address").map_err(bad)?,
                        cancelled: row.text("status").map_err(bad)? == "cancelled",
                    },
                };
                let meta = Metadata {
                    correlation_id: Some(streams::correlation(id)),
                    ..meta
                };
                execute(&self.orders, &streams::order(id), command, meta).await
            }
            "order_items" => {
                let order_id = row.int("order_id").map_err(bad)?;
                let line = Line {
                    item_id: row.int("id").map_err(bad)?,
                    product_id: row.int("product_id").map_err(bad)?,
                    quantity: row.int("quantity").map_err(bad)?,
                    unit_price_cents: row.cents("unit_price").map_err(bad)?,
                };
                let meta = Metadata {
                    correlation_id: Some(streams::correlation(order_id)),
                    ..meta
                };
                execute(
                    &self.orders,
                    &streams::order(order_id),
                    OrderCommand::AddItem(line),
                    meta,
                )
                .await
            }
            "customers" => {
                let command = CustomerRow {
                    name: row.text("name").map_err(bad)?,
                    email: row.text("email").map_err(bad)?,
                    address: row.text("address").map_err(bad)?,
                    credit_limit_cents: row.cents("credit_limit").map_err(bad)?,
                };
                execute(
                    &self.customers,
                    &streams::customer(row.int("id").map_err(bad)?),
                    command,
                    meta,
                )
                .await
            }
            "products" => {
                let command = InventoryCommand::Stock(row.int("stock").map_err(bad)?);
                execute(
                    &self.inventory,
                    &streams::inventory(row.int("id").map_err(bad)?),
                    command,
                    meta,
                )
                .await
            }
            other => Err(HandlerError::permanent(format!(
                "no translation for table `{other}`"
            ))),
        }
    }

    /// The span of one change. An order row's starts the order's trace; an item's joins it.
    async fn span(&self, change: &Change) -> tracing::Span {
        let source = &change.source;
        let span = tracing::info_span!("ecommerce.translate", table = %source.table, op = %change.op,
            file = %source.file, pos = source.pos, row = source.row);
        let order_id = |column| change.row().and_then(|r| r.int(column)).ok();
        match source.table.as_str() {
            "orders" if change.before().is_none() => {
                if let Some(id) = order_id("id") {
                    self.traces.started(id, &span);
                }
            }
            "order_items" => {
                if let Some(id) = order_id("order_id") {
                    self.traces.join(id, &span).await;
                }
            }
            _ => {}
        }
        span
    }
}

#[async_trait::async_trait]
impl MessageHandler for Translator {
    async fn handle(&self, message: &ConsumedMessage) -> Result<(), HandlerError> {
        self.handle_change(message).await
    }
}

impl Translator {
    /// Translates one consumed record (a tombstone or a delete does nothing).
    pub async fn handle_change(&self, message: &ConsumedMessage) -> Result<(), HandlerError> {
        let Some(change) =
            Change::decode(message.payload.as_deref()).map_err(HandlerError::permanent)?
        else {
            return Ok(()); // a tombstone
        };
        if change.op == "d" {
            tracing::warn!(table = %change.source.table, pos = change.source.pos, "the legacy application deleted a row; not translated");
            return Ok(());
        }
        let span = self.span(&change).await;
        self.translate(&change, message.key_str())
            .instrument(span)
            .await
    }
}

/// Executes `command` with the commands queued for the same stream. A command the aggregate
/// refuses goes to the dead-letter topic; a store failure is retried.
pub async fn execute<A: Aggregate + Clone>(
    writer: &Batched<A>,
    stream: &str,
    command: A::Command,
    meta: Metadata,
) -> Result<(), HandlerError>
where
    A::Command: Clone,
{
    match writer.execute(stream, command, meta).await {
        Ok(_) => Ok(()),
        Err(Refused::Rejected(error)) => Err(HandlerError::permanent(format!(
            "`{stream}` refused: {error}"
        ))),
        Err(Refused::Failed {
            reason,
            retryable: true,
        }) => Err(HandlerError::retryable(reason)),
        Err(Refused::Failed { reason, .. }) => Err(HandlerError::permanent(reason)),
    }
}
