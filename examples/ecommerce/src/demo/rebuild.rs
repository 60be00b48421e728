//! Check 5: the read models equal a rebuild from the event store. The rebuild runs the same
//! declared projection over the whole history into memory (with a checkpoint of its own), and
//! every rebuilt document must be in Elasticsearch and Redis as it is.

use std::collections::BTreeMap;

use keel::projections::sinks::MemorySink;
use keel::projections::{Declared, DocChange, Envelope, Projection, ProjectionRunner, ReadModel};
use serde_json::{Value, json};

use super::checks::Check;
use super::stores::Stores;
use crate::read_models::{CustomerView, OrderView};

/// `Declared<M>` under another name, so its checkpoint is its own.
struct Renamed<M> {
    inner: Declared<M>,
    name: String,
}

impl<M: ReadModel> Projection for Renamed<M> {
    type Event = M::Event;
    type Doc = M;

    fn name(&self) -> &str {
        &self.name
    }

    fn event_types(&self) -> Vec<&'static str> {
        self.inner.event_types()
    }

    fn key(&self, event: &Envelope<'_, M::Event>) -> String {
        self.inner.key(event)
    }

    fn apply(&self, event: &Envelope<'_, M::Event>, doc: Option<M>) -> DocChange<M> {
        self.inner.apply(event, doc)
    }
}

/// Every document of `M` rebuilt from the store.
async fn rebuilt<M: ReadModel>(stores: &Stores) -> crate::Result<BTreeMap<String, Value>> {
    let sink = MemorySink::new();
    let name = format!("{}:check:{}", M::NAME, uuid::Uuid::new_v4());
    let runner = ProjectionRunner::new(
        stores.events.clone(),
        Renamed {
            inner: Declared::<M>::new(),
            name,
        },
    )
    .with_sink(sink.clone());
    runner.catch_up().await?;
    Ok(sink.documents().into_iter().collect())
}

async fn compare<M: ReadModel>(
    stores: &Stores,
    index: &str,
    prefix: &str,
    differences: &mut Vec<String>,
) -> crate::Result<usize> {
    let expected = rebuilt::<M>(stores).await?;
    let keys: Vec<&String> = expected.keys().collect();
    let mut conn = stores.redis.clone();
    for chunk in keys.chunks(1000) {
        let response: Value = stores
            .http
            .post(stores.es(&format!("{index}/_mget")))
            .json(&json!({ "ids": chunk }))
            .send()
            .await?
            .json()
            .await?;
        let redis_keys: Vec<String> = chunk.iter().map(|k| format!("{prefix}{k}")).collect();
        let in_redis: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&redis_keys)
            .query_async(&mut conn)
            .await?;
        for ((key, doc), cached) in chunk
            .iter()
            .zip(response["docs"].as_array().into_iter().flatten())
            .zip(in_redis)
        {
            let want = &expected[*key];
            if doc["_source"] != *want {
                differences.push(format!("{index}/{key} differs from the rebuild"));
            }
            let cached: Option<Value> = cached.and_then(|c| serde_json::from_str(&c).ok());
            if cached.as_ref() != Some(want) {
                differences.push(format!("{prefix}{key} differs from the rebuild"));
            }
        }
    }
    Ok(expected.len())
}

/// Rebuilds both read models and compares them with the live ones.
pub async fn check(stores: &Stores) -> crate::Result<Check> {
    let names = stores.settings.names();
    let mut differences = Vec::new();
    let orders = compare::<OrderView>(
        stores,
        &names.orders_index,
        &names.order_key_prefix,
        &mut differences,
    )
    .await?;
    let customers = compare::<CustomerView>(
        stores,
        &names.customers_index,
        &names.customer_key_prefix,
        &mut differences,
    )
    .await?;
    Ok(Check {
        name: "the read models equal a rebuild from the event store",
        passed: differences.is_empty(),
        detail: if differences.is_empty() {
            format!(
                "{orders} order and {customers} customer documents rebuilt, all equal in Elasticsearch and Redis"
            )
        } else {
            format!(
                "{} differences, e.g. {}",
                differences.len(),
                differences
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    })
}
