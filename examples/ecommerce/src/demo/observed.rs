//! What the stores hold after a run, read from the stores themselves (not from the pipeline's
//! counters): the legacy rows, the aggregates, the read-model documents and the sagas.

use std::collections::BTreeMap;

use keel::sagas::choreography::ChoreographyView;
use keel::store::StreamQuery;
use keel::{EventStore, Repository};
use mysql_async::prelude::Queryable;
use serde_json::{Value, json};

use super::stores::Stores;
use crate::domain::inventory::Inventory;
use crate::domain::order::{Line, Order};
use crate::domain::payment::Payment;
use crate::domain::streams;
use crate::legacy::schema::parse_cents;
use crate::read_models::OrderView;

/// An order as the legacy database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyOrder {
    /// Who ordered.
    pub customer_id: i64,
    /// Whether the customer cancelled it.
    pub cancelled: bool,
    /// `total` in cents.
    pub total_cents: i64,
    /// Its item rows, by item id.
    pub lines: Vec<Line>,
}

/// Everything the checks compare.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Legacy orders by id.
    pub legacy_orders: BTreeMap<i64, LegacyOrder>,
    /// Legacy stock by product id (the load never changes it).
    pub legacy_stock: BTreeMap<i64, i64>,
    /// Order aggregates by order id (absent: no stream).
    pub orders: BTreeMap<i64, Order>,
    /// Inventory aggregates by product id.
    pub inventory: BTreeMap<i64, Inventory>,
    /// Payment aggregates by order id, with the number of `PaymentCaptured` events stored.
    pub payments: BTreeMap<i64, (Payment, usize)>,
    /// `orders_read_model` documents by order id.
    pub es_orders: BTreeMap<i64, OrderView>,
    /// `order:<id>` documents by order id.
    pub redis_orders: BTreeMap<i64, OrderView>,
    /// Saga instances by (type, state).
    pub sagas: BTreeMap<(String, String), i64>,
}

impl Observed {
    /// Reads it all.
    pub async fn gather(stores: &Stores) -> crate::Result<Self> {
        let mut o = Observed::default();
        o.read_legacy(stores).await?;
        let ids: Vec<i64> = o.legacy_orders.keys().copied().collect();
        let orders = crate::store::orders(stores.events.clone());
        let payments = crate::store::payments(stores.events.clone());
        for &id in &ids {
            let loaded = orders.load(&streams::order(id)).await?;
            if loaded.version > 0 {
                o.orders.insert(id, loaded.state);
            }
            let stream = streams::payment(id);
            let events = stores
                .events
                .read_stream(&stream, StreamQuery::all())
                .await?;
            if !events.is_empty() {
                let captures = events
                    .iter()
                    .filter(|e| e.event_type == "PaymentCaptured")
                    .count();
                o.payments
                    .insert(id, (payments.load(&stream).await?.state, captures));
            }
        }
        let inventory: Repository<Inventory, _> = crate::store::inventory(stores.events.clone());
        for &product in o.legacy_stock.keys() {
            o.inventory.insert(
                product,
                inventory.load(&streams::inventory(product)).await?.state,
            );
        }
        o.es_orders = es_documents(stores, &ids).await?;
        o.redis_orders = redis_documents(stores, &ids).await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT saga_type, state, count(*) FROM keel_saga_instances GROUP BY saga_type, state",
        )
        .fetch_all(stores.events.pool())
        .await?;
        o.sagas = rows.into_iter().map(|(t, s, n)| ((t, s), n)).collect();
        if stores.settings.saga == crate::settings::SagaStyle::Choreography {
            let view = crate::roles::choreography::view(&stores.events).await?;
            for (state, n) in view.counts().await? {
                let key = ("order-fulfilment".to_owned(), state.as_str().to_owned());
                *o.sagas.entry(key).or_default() += i64::try_from(n)?;
            }
        }
        Ok(o)
    }

    async fn read_legacy(&mut self, stores: &Stores) -> crate::Result<()> {
        let mut conn = stores.mariadb.get_conn().await?;
        let orders: Vec<(i64, i64, String, String)> = conn
            .query("SELECT id, customer_id, status, CAST(total AS CHAR) FROM orders")
            .await?;
        for (id, customer_id, status, total) in orders {
            let total_cents = parse_cents(&total)
                .ok_or_else(|| format!("orders.total {total:?} of order {id}"))?;
            self.legacy_orders.insert(
                id,
                LegacyOrder {
                    customer_id,
                    cancelled: status == "cancelled",
                    total_cents,
                    lines: vec![],
                },
            );
        }
        let items: Vec<(i64, i64, i64, i64, String)> = conn
            .query("SELECT id, order_id, product_id, quantity, CAST(unit_price AS CHAR) FROM order_items ORDER BY id")
            .await?;
        for (item_id, order_id, product_id, quantity, price) in items {
            let unit_price_cents = parse_cents(&price)
                .ok_or_else(|| format!("order_items.unit_price {price:?} of item {item_id}"))?;
            if let Some(order) = self.legacy_orders.get_mut(&order_id) {
                order.lines.push(Line {
                    item_id,
                    product_id,
                    quantity,
                    unit_price_cents,
                });
            }
        }
        let stock: Vec<(i64, i64)> = conn.query("SELECT id, stock FROM products").await?;
        self.legacy_stock = stock.into_iter().collect();
        Ok(())
    }
}

async fn es_documents(stores: &Stores, ids: &[i64]) -> crate::Result<BTreeMap<i64, OrderView>> {
    let url = stores.es(&format!("{}/_mget", stores.settings.names().orders_index));
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(1000) {
        let body = json!({ "ids": chunk.iter().map(ToString::to_string).collect::<Vec<_>>() });
        let response: Value = stores
            .http
            .post(&url)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        for doc in response["docs"].as_array().into_iter().flatten() {
            if doc["found"] == json!(true) {
                let id: i64 = doc["_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or("an _mget document without a numeric _id")?;
                out.insert(id, serde_json::from_value(doc["_source"].clone())?);
            }
        }
    }
    Ok(out)
}

async fn redis_documents(stores: &Stores, ids: &[i64]) -> crate::Result<BTreeMap<i64, OrderView>> {
    let prefix = stores.settings.names().order_key_prefix;
    let mut conn = stores.redis.clone();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(1000) {
        let keys: Vec<String> = chunk.iter().map(|id| format!("{prefix}{id}")).collect();
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
        for (id, value) in chunk.iter().zip(values) {
            if let Some(json) = value {
                out.insert(*id, serde_json::from_str(&json)?);
            }
        }
    }
    Ok(out)
}
