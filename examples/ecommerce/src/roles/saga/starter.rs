//! The saga starter: follows the event store from its checkpoint and starts an
//! `order-fulfilment` saga for each submitted order and an `order-cancellation` saga for each
//! order the customer cancelled.
//!
//! Starting a saga waits for its row to be stored and its first command to be acknowledged by
//! Kafka, so the sagas of one batch of events start concurrently (one order's events in
//! order), and the checkpoint moves past the batch once every start returned. After a crash
//! the batch comes again; a saga already stored is not started twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use keel::kafka::HandlerError;
use keel::sagas::Saga;
use keel::store::{CheckpointStore, PostgresStore};
use keel::{EventStore, Position, RecordedEvent, Repository};

use super::SagaCoordinator;
use crate::domain::order::{CUSTOMER, Order, OrderEvent};
use crate::sagas::{OrderCancellation, OrderFulfilment, saga_id};

/// The starter's checkpoint.
pub const CHECKPOINT: &str = "saga-starter";
/// Events read per batch.
const BATCH: usize = 500;
/// Orders whose sagas start at the same time.
const CONCURRENCY: usize = 64;

/// Starts sagas from order events.
pub struct Starter {
    /// The coordinator the sagas start on.
    pub coordinator: Arc<SagaCoordinator>,
    /// The event store it follows.
    pub store: PostgresStore,
    /// Orders, for what a cancellation saga carries.
    pub orders: Repository<Order, PostgresStore>,
}

impl Starter {
    /// Follows the store until the task is dropped. A batch that fails for a reason that may
    /// pass (a database or broker hiccup) is tried again after a pause; any other failure ends
    /// the role, naming the event.
    pub async fn run(&self) -> crate::Result<()> {
        let mut after = self
            .store
            .load_checkpoint(CHECKPOINT)
            .await?
            .unwrap_or(Position::START);
        let mut pause = Duration::from_millis(100);
        loop {
            let batch = self.store.read_all(after, BATCH).await?;
            let Some(last) = batch.last().map(|e| e.position) else {
                self.store.wait_for_new(after, Duration::from_secs(1)).await;
                continue;
            };
            match self.start_all(&batch).await {
                Ok(()) => {
                    self.store.save_checkpoint(CHECKPOINT, last).await?;
                    after = last;
                    pause = Duration::from_millis(100);
                }
                Err(HandlerError::Retryable(reason)) => {
                    tracing::warn!(%reason, "starting sagas failed; trying the batch again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Starts the sagas of `batch`: different orders concurrently, one order's in order.
    async fn start_all(&self, batch: &[RecordedEvent]) -> Result<(), HandlerError> {
        let mut by_order: BTreeMap<&str, Vec<&RecordedEvent>> = BTreeMap::new();
        for event in batch.iter().filter(|e| {
            e.stream_id.starts_with("order-")
                && matches!(e.event_type.as_str(), "OrderSubmitted" | "OrderCancelled")
        }) {
            by_order.entry(&event.stream_id).or_default().push(event);
        }
        futures::stream::iter(by_order.into_values().map(|events| async move {
            for event in events {
                self.on(event).await?;
            }
            Ok::<_, HandlerError>(())
        }))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
    }

    async fn on(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(order_id) = event
            .stream_id
            .strip_prefix("order-")
            .and_then(|id| id.parse::<i64>().ok())
        else {
            return Ok(());
        };
        match crate::domain::decode(event).map_err(HandlerError::permanent)? {
            OrderEvent::OrderSubmitted {
                customer_id,
                lines,
                total_cents,
            } => {
                let data = OrderFulfilment {
                    order_id,
                    customer_id,
                    lines,
                    total_cents,
                };
                self.start(order_id, &data, event).await
            }
            // Cancelled by the fulfilment saga itself, after compensating: nothing to start.
            OrderEvent::OrderCancelled { reason } if reason != CUSTOMER => Ok(()),
            OrderEvent::OrderCancelled { .. } => {
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
                self.start(order_id, &data, event).await
            }
            _ => Ok(()),
        }
    }

    /// Starts saga `D` of order `order_id` unless it was started before.
    async fn start<D: Saga>(
        &self,
        order_id: i64,
        data: &D,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        match self
            .coordinator
            .start_saga(&saga_id(order_id), data, &event.metadata)
            .await
        {
            Ok(_) | Err(keel::sagas::Error::SagaExists { .. }) => Ok(()),
            Err(error) if error.is_retryable() => Err(HandlerError::retryable(error)),
            Err(error) => Err(HandlerError::permanent(error)),
        }
    }
}
