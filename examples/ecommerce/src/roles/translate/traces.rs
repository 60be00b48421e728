//! One trace per order: the span translating an order's row starts it, and the spans of its
//! items join it. The trace contexts of recent orders are kept in memory; an item whose order
//! is not among them (its row was translated before a restart, or not yet) reads the order's
//! first event for it, as the row's span recorded its context there.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use keel::store::{PostgresStore, StreamQuery};
use keel::{EventStore, Metadata};

use crate::domain::streams;

/// How many orders' trace contexts are kept.
const KEPT: usize = 20_000;

/// The trace contexts of recent orders.
pub struct OrderTraces {
    store: PostgresStore,
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    by_order: HashMap<i64, Metadata>,
    oldest_first: VecDeque<i64>,
}

impl OrderTraces {
    /// Trace contexts of orders in `store`.
    pub fn new(store: PostgresStore) -> Self {
        Self {
            store,
            recent: Mutex::default(),
        }
    }

    /// `span` translates order `order_id`'s row: its items' spans will join its trace.
    pub fn started(&self, order_id: i64, span: &tracing::Span) {
        let context = span.in_scope(|| keel::telemetry::with_current_context(Metadata::default()));
        self.remember(order_id, context);
    }

    /// Makes `span` (an item of order `order_id`) a child of the span of the order's row, when
    /// that is known.
    pub async fn join(&self, order_id: i64, span: &tracing::Span) {
        let known = self.lock().by_order.get(&order_id).cloned();
        let context = match known {
            Some(context) => Some(context),
            None => self
                .store
                .read_stream(&streams::order(order_id), StreamQuery::all().limit(1))
                .await
                .ok()
                .and_then(|events| events.into_iter().next())
                .map(|first| first.metadata),
        };
        if let Some(context) = context.filter(|c| c.traceparent.is_some()) {
            keel::telemetry::set_parent_from_metadata(span, &context);
            self.remember(order_id, context);
        }
    }

    fn remember(&self, order_id: i64, context: Metadata) {
        let mut recent = self.lock();
        if recent.by_order.insert(order_id, context).is_none() {
            recent.oldest_first.push_back(order_id);
            if recent.oldest_first.len() > KEPT
                && let Some(oldest) = recent.oldest_first.pop_front()
            {
                recent.by_order.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
