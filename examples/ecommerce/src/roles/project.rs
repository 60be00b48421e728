//! `ecommerce project`: the read models, kept current from the event store.
//!
//! Each sink's documents are loaded from that sink; a Redis key that expired (TTL) is planned
//! from the Elasticsearch document at the order's next change, so it comes back whole.

use keel::projections::sinks::elasticsearch::ElasticsearchSink;
use keel::projections::sinks::redis::RedisSink;
use keel::projections::{Declared, ProjectionRunner, ProjectionSet, ReadModel, RunnerConfig};
use keel::store::PostgresStore;

use crate::read_models::{CustomerView, OrderView};
use crate::settings::Settings;

/// Runs both projections until `shutdown`.
pub async fn run(
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> crate::Result<()> {
    let store = crate::store::connect(settings).await?;
    let names = settings.names();
    let set = ProjectionSet::new()
        .with(
            runner::<OrderView>(
                &store,
                settings,
                &names.orders_index,
                &names.order_key_prefix,
            )
            .await?,
        )
        .with(
            runner::<CustomerView>(
                &store,
                settings,
                &names.customers_index,
                &names.customer_key_prefix,
            )
            .await?,
        );
    set.run(shutdown).await?;
    Ok(())
}

/// The runner of read model `M`, writing to `index` and under `key_prefix`.
pub async fn runner<M: ReadModel>(
    store: &PostgresStore,
    settings: &Settings,
    index: &str,
    key_prefix: &str,
) -> crate::Result<ProjectionRunner<PostgresStore, Declared<M>>> {
    let mut es = M::elasticsearch(&settings.elasticsearch)
        .ok_or("the read model declares no Elasticsearch sink")?;
    es.index = index.to_owned();
    let mut redis = M::redis(&settings.redis).ok_or("the read model declares no Redis sink")?;
    redis.key_prefix = key_prefix.to_owned();
    // Flush a partial batch 5 ms after its first event: reads follow writes closely. Live
    // batches are small, and an Elasticsearch `_bulk` takes far longer than a Redis pipeline:
    // each sink follows in a lane of its own (ADR 0051), with up to 8 batches in flight.
    let config = RunnerConfig {
        flush_timeout_ms: 5,
        max_in_flight_requests: 8,
        ..RunnerConfig::default()
    };
    Ok(ProjectionRunner::new(store.clone(), Declared::<M>::new())
        .with_sink(ElasticsearchSink::build(es).await?)
        .with_sink(RedisSink::build(redis).await?)
        .with_config(config)?)
}
