use keel_macros::Projection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, keel_macros::Event)]
#[event(crate = "keel_core")]
enum ShopEvent {
    OrderPlaced { total_cents: i64 },
    OrderCancelled,
}

#[derive(Clone, Serialize, Deserialize, Projection)]
#[projection(crate = "keel_projections", name = "orders", event = ShopEvent, key = id)]
#[projection(events(OrderPlaced, OrderCancelled), on(OrderPlaced = Self::placed))]
struct OrderView {
    id: String,
}

impl OrderView {
    fn placed(
        _: &keel_projections::Envelope<'_, ShopEvent>,
        doc: Option<Self>,
    ) -> keel_projections::DocChange<Self> {
        doc.map_or(keel_projections::DocChange::Unchanged, keel_projections::DocChange::Upsert)
    }
}

fn main() {}
