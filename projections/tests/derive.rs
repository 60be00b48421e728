//! `#[derive(Projection)]`: the declared read model runs like a hand-written projection.

mod common;

use common::*;
use keel_core::store::MemoryStore;
use keel_projections::sinks::MemorySink;
use keel_projections::sinks::redis::RedisFormat;
use keel_projections::testing::ProjectionFixture;
use keel_projections::{Declared, DocChange, Envelope, ProjectionRunner, ReadModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, keel_macros::Projection)]
#[projection(crate = "keel_projections", name = "order-view", event = ShopEvent, key = id)]
#[projection(events(OrderPlaced, OrderCancelled))]
#[projection(on(OrderPlaced = Self::placed, OrderCancelled = Self::cancelled))]
#[projection(
    elasticsearch(index = "order-view"),
    redis(prefix = "orders:", ttl = 3600, format = "hash")
)]
struct OrderView {
    id: String,
    customer: String,
    total_cents: i64,
    status: String,
    #[projection(es_type = "text")]
    reason: Option<String>,
    tags: Vec<String>,
}

impl OrderView {
    fn placed(e: &Envelope<'_, ShopEvent>, _: Option<Self>) -> DocChange<Self> {
        let ShopEvent::OrderPlaced {
            customer,
            total_cents,
        } = &e.event
        else {
            return DocChange::Unchanged;
        };
        DocChange::Upsert(Self {
            id: String::new(),
            customer: customer.clone(),
            total_cents: *total_cents,
            status: "placed".into(),
            reason: None,
            tags: Vec::new(),
        })
    }

    fn cancelled(e: &Envelope<'_, ShopEvent>, doc: Option<Self>) -> DocChange<Self> {
        match (&e.event, doc) {
            (ShopEvent::OrderCancelled { reason }, Some(doc)) => DocChange::Upsert(Self {
                status: "cancelled".into(),
                reason: Some(reason.clone()),
                ..doc
            }),
            _ => DocChange::Unchanged,
        }
    }
}

#[test]
fn the_declaration_becomes_a_read_model() {
    assert_eq!(OrderView::NAME, "order-view");
    assert_eq!(OrderView::EVENTS, &["OrderPlaced", "OrderCancelled"]);

    let es = OrderView::elasticsearch("http://es:9200").unwrap();
    assert_eq!(es.index, "order-view");
    assert_eq!(
        es.mapping,
        Some(json!({
            "id": {"type": "keyword"},
            "customer": {"type": "keyword"},
            "total_cents": {"type": "long"},
            "status": {"type": "keyword"},
            "reason": {"type": "text"},
            "tags": {"type": "keyword"},
        }))
    );
    let redis = OrderView::redis("redis://r/").unwrap();
    assert_eq!(
        (redis.key_prefix.as_str(), redis.ttl_secs, redis.format),
        ("orders:", Some(3600), RedisFormat::Hash)
    );
    assert_eq!(redis.url, "redis://r/");
}

#[test]
fn handlers_run_and_the_key_field_is_filled() {
    ProjectionFixture::new(Declared::<OrderView>::new())
        .given_stream("order-7", [placed("ada", 4200), cancelled("late"), registered("ignored")])
        .then_document(
            "order-7",
            json!({"id": "order-7", "customer": "ada", "total_cents": 4200, "status": "cancelled", "reason": "late", "tags": []}),
        );
}

#[tokio::test]
async fn a_declared_read_model_runs_in_the_runner() {
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("bob", 5)]).await;
    let sink = MemorySink::new();
    let runner = ProjectionRunner::new(store, Declared::<OrderView>::new()).with_sink(sink.clone());
    assert_eq!(runner.checkpoint_name(), "projection:order-view");
    runner.catch_up().await.unwrap();
    assert_eq!(sink.document("order-1").unwrap()["id"], "order-1");
}

/// The same read model keyed by the order number: stream `order-7` is document `7`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, keel_macros::Projection)]
#[projection(crate = "keel_projections", name = "order-numbers", event = ShopEvent, key = id, stream_prefix = "order-")]
#[projection(events(OrderPlaced, OrderCancelled))]
#[projection(on(OrderPlaced = Self::placed, OrderCancelled = Self::cancelled))]
struct OrderNumber {
    id: String,
    status: String,
}

impl OrderNumber {
    fn placed(_: &Envelope<'_, ShopEvent>, _: Option<Self>) -> DocChange<Self> {
        DocChange::Upsert(Self {
            id: String::new(),
            status: "placed".into(),
        })
    }

    fn cancelled(_: &Envelope<'_, ShopEvent>, doc: Option<Self>) -> DocChange<Self> {
        doc.map_or(DocChange::Unchanged, |doc| {
            DocChange::Upsert(Self {
                status: "cancelled".into(),
                ..doc
            })
        })
    }
}

#[test]
fn a_stream_prefix_is_stripped_from_the_document_key() {
    assert_eq!(<OrderNumber as ReadModel>::STREAM_PREFIX, "order-");
    ProjectionFixture::new(Declared::<OrderNumber>::new())
        .given_stream("order-7", [placed("ada", 4200), cancelled("late")])
        .then_document("7", json!({"id": "7", "status": "cancelled"}))
        .then_absent("order-7");
}
