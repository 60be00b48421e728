//! The runner against the in-memory store and sink: batching, checkpoints after
//! acknowledgement, outages, replays, several projections, lag.

mod common;

use std::time::Duration;

use common::*;
use keel_core::Position;
use keel_core::store::{CheckpointStore, EventStore, MemoryStore};
use keel_projections::sinks::MemorySink;
use keel_projections::{Error, ProjectionRunner, ProjectionSet, RunnerConfig};
use serde_json::json;

fn fast() -> RunnerConfig {
    RunnerConfig {
        batch_size: 2,
        flush_timeout_ms: 20,
        retry_backoff_ms: 10,
        max_retry_backoff_ms: 50,
        poll_interval_ms: 50,
        ..RunnerConfig::default()
    }
}

#[tokio::test]
async fn projects_partial_updates_and_deletes() {
    let store = MemoryStore::new();
    append(
        &store,
        "order-1",
        &[placed("ada", 4200), cancelled("changed mind")],
    )
    .await;
    append(
        &store,
        "customer-1",
        &[registered("ada"), ShopEvent::CustomerErased],
    )
    .await;
    append(&store, "customer-2", &[registered("bob")]).await;

    let orders = MemorySink::new();
    let customers = MemorySink::new();
    let o = ProjectionRunner::new(store.clone(), Orders("orders".into())).with_sink(orders.clone());
    let c = ProjectionRunner::new(store.clone(), Customers("customers".into()))
        .with_sink(customers.clone());
    assert_eq!(o.catch_up().await.unwrap(), 5);
    assert_eq!(c.catch_up().await.unwrap(), 5);

    assert_eq!(
        orders.document("order-1"),
        Some(
            json!({"customer": "ada", "total_cents": 4200, "status": "cancelled", "reason": "changed mind"})
        )
    );
    assert_eq!(orders.stored("order-1").unwrap().version, 2);
    assert_eq!(customers.document("customer-1"), None);
    assert_eq!(
        customers.stored("customer-1").unwrap().version,
        2,
        "tombstone"
    );
    assert_eq!(customers.document("customer-2").unwrap()["name"], "bob");
}

#[tokio::test]
async fn replaying_a_range_changes_nothing() {
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("ada", 1), cancelled("x")]).await;
    append(&store, "order-2", &[placed("bob", 2)]).await;
    let sink = MemorySink::new();
    let runner = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(sink.clone())
        .with_config(fast())
        .unwrap();
    runner.catch_up().await.unwrap();
    let before = sink.documents();
    let versions = (sink.stored("order-1"), sink.stored("order-2"));

    store
        .save_checkpoint(runner.checkpoint_name(), Position::START)
        .await
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!(sink.documents(), before);
    assert_eq!((sink.stored("order-1"), sink.stored("order-2")), versions);
}

/// A crash between two sinks' writes leaves the second one behind; the batch comes again and
/// must reach it, although the first sink already holds it (and so skips it by version).
#[tokio::test]
async fn a_sink_that_missed_a_batch_catches_up_when_it_comes_again() {
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("ada", 1), cancelled("x")]).await;
    append(&store, "order-2", &[placed("bob", 2)]).await;
    let (first, second) = (MemorySink::new(), MemorySink::new());
    // Only the first sink got the batch before the "crash": its checkpoint never moved.
    let crashed = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(first.clone())
        .with_config(fast())
        .unwrap();
    crashed.catch_up().await.unwrap();
    store
        .save_checkpoint(crashed.checkpoint_name(), Position::START)
        .await
        .unwrap();
    let before = first.documents();

    let restarted = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(first.clone())
        .with_sink(second.clone())
        .with_config(fast())
        .unwrap();
    restarted.catch_up().await.unwrap();
    assert_eq!(first.documents(), before, "the first sink is unchanged");
    assert_eq!(second.documents(), before, "the second sink caught up");
    assert_eq!(second.stored("order-1").unwrap().version, 2);
}

/// Both sinks hold order-1 whole: placed by ada for 4200, then cancelled (version 2).
fn assert_cancelled_whole(sinks: &[MemorySink; 2], lost_by: usize) {
    let expected = json!({"customer": "ada", "total_cents": 4200, "status": "cancelled", "reason": "changed mind"});
    for sink in sinks {
        assert_eq!(
            sink.document("order-1"),
            Some(expected.clone()),
            "lost by sink {lost_by}"
        );
        assert_eq!(sink.stored("order-1").map(|s| s.version), Some(2));
    }
}

/// A sink that lost a document the other one keeps (a Redis TTL ran out, an eviction) gets the
/// whole document again at its next change, planned from the other sink's copy, whichever
/// sink lost it.
#[tokio::test]
async fn a_document_one_sink_lost_is_written_whole_at_its_next_change() {
    for lost_by in 0..2 {
        let store = MemoryStore::new();
        append(&store, "order-1", &[placed("ada", 4200)]).await;
        let sinks = [MemorySink::new(), MemorySink::new()];
        let runner = ProjectionRunner::new(store.clone(), Orders("orders".into()))
            .with_sink(sinks[0].clone())
            .with_sink(sinks[1].clone())
            .with_config(fast())
            .unwrap();
        runner.catch_up().await.unwrap();
        assert!(sinks[lost_by].expire("order-1"));

        append(&store, "order-1", &[cancelled("changed mind")]).await;
        runner.catch_up().await.unwrap();
        assert_cancelled_whole(&sinks, lost_by);
    }
}

/// A runner following the store, the sender that stops it and its task.
type Following = (
    std::sync::Arc<ProjectionRunner<MemoryStore, Orders>>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), Error>>,
);

/// A runner of `Orders` over `sinks`, following the store until the returned sender fires.
fn follow(store: &MemoryStore, sinks: &[MemorySink], config: RunnerConfig) -> Following {
    let mut runner = ProjectionRunner::new(store.clone(), Orders("orders".into()));
    for sink in sinks {
        runner = runner.with_sink(sink.clone());
    }
    let runner = std::sync::Arc::new(runner.with_config(config).expect("a valid configuration"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });
    (runner, stop, task)
}

/// While following, each sink has a lane of its own: one that is down holds back neither the
/// other's writes nor loses anything, and the checkpoint waits for the slower lane.
#[tokio::test]
async fn a_sink_that_is_down_does_not_hold_back_the_other_while_following() {
    let store = MemoryStore::new();
    let sinks = [MemorySink::new(), MemorySink::new()];
    let (runner, stop, task) = follow(&store, &sinks, fast());
    sinks[1].set_down(true);
    // More batches than a runner has in flight: together, the sinks would stop at those.
    for i in 1..=40 {
        append(&store, &format!("order-{i}"), &[placed("ada", i)]).await;
    }
    eventually(5, "the healthy sink writes during the outage", || async {
        (1..=40).all(|i| sinks[0].document(&format!("order-{i}")).is_some())
    })
    .await;
    assert!(sinks[1].document("order-1").is_none());
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        Position::START,
        "the checkpoint moved past events a sink does not hold"
    );

    sinks[1].set_down(false);
    eventually(5, "the other sink catches up", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    assert_eq!(sinks[1].documents(), sinks[0].documents());
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// While following, a document one sink lost comes back whole at its next change, from the
/// other lane's sink.
#[tokio::test]
async fn a_document_one_sink_lost_comes_back_whole_while_following() {
    for lost_by in 0..2 {
        let store = MemoryStore::new();
        let sinks = [MemorySink::new(), MemorySink::new()];
        // Without the documents a lane keeps (which would spare the load and write the whole
        // document too), so that the lost document is restored from the other sink.
        let config = RunnerConfig {
            cache_max_documents: 0,
            ..fast()
        };
        let (runner, stop, task) = follow(&store, &sinks, config);
        append(&store, "order-1", &[placed("ada", 4200)]).await;
        eventually(5, "both sinks hold the order", || async {
            runner.lag().await.unwrap().events_behind == 0
        })
        .await;
        assert!(sinks[lost_by].expire("order-1"));
        // Other orders' batches, so that order-1 is no longer among the lane's recent batches
        // (whose changes spare loads) but has to be loaded.
        for i in 2..=12 {
            append(&store, &format!("order-{i}"), &[placed("bob", i)]).await;
        }
        eventually(5, "the other orders are projected", || async {
            runner.lag().await.unwrap().events_behind == 0
        })
        .await;

        append(&store, "order-1", &[cancelled("changed mind")]).await;
        eventually(5, "both sinks hold the change", || async {
            runner.lag().await.unwrap().events_behind == 0
        })
        .await;
        assert_cancelled_whole(&sinks, lost_by);
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
    }
}

/// While following, a document changed again is planned from the copy the sink acknowledged
/// (`cache.max.documents`), not read back; with the cache off it is loaded once.
#[tokio::test]
async fn following_plans_a_document_changed_again_from_the_acknowledged_copy() {
    for (cache, loads) in [(10_000, 0), (0, 1)] {
        let store = MemoryStore::new();
        let sink = MemorySink::new();
        let config = RunnerConfig {
            cache_max_documents: cache,
            ..fast()
        };
        let (runner, stop, task) = follow(&store, std::slice::from_ref(&sink), config);
        append(&store, "order-1", &[placed("ada", 4200)]).await;
        // Other orders' batches, so that order-1 is no longer among the recent batches.
        for i in 2..=12 {
            append(&store, &format!("order-{i}"), &[placed("bob", i)]).await;
        }
        eventually(5, "the orders are projected", || async {
            runner.lag().await.unwrap().events_behind == 0
        })
        .await;
        let before = sink.loaded_keys();
        append(&store, "order-1", &[cancelled("changed mind")]).await;
        eventually(5, "the change is projected", || async {
            runner.lag().await.unwrap().events_behind == 0
        })
        .await;
        assert_eq!(
            sink.document("order-1"),
            Some(
                json!({"customer": "ada", "total_cents": 4200, "status": "cancelled", "reason": "changed mind"})
            ),
            "cache.max.documents {cache}"
        );
        assert_eq!(
            sink.loaded_keys() - before,
            loads,
            "documents read back with cache.max.documents {cache}"
        );
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_sink_outage_holds_the_checkpoint_and_loses_nothing() {
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let runner = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(sink.clone())
        .with_config(fast())
        .unwrap();
    append(&store, "order-1", &[placed("ada", 1)]).await;
    runner.catch_up().await.unwrap();
    let committed = runner.checkpoint().await.unwrap();

    sink.set_down(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let runner = std::sync::Arc::new(runner);
        let r = runner.clone();
        (
            runner,
            tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await }),
        )
    };
    let (runner, task) = running;
    for i in 2..=6 {
        append(&store, &format!("order-{i}"), &[placed("bob", i)]).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        committed,
        "checkpoint moved during the outage"
    );
    let lag = runner.lag().await.unwrap();
    assert_eq!(lag.events_behind, 5);
    assert!(lag.ms_behind >= 250, "{lag:?}");

    sink.set_down(false);
    eventually(5, "catch-up after the outage", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    for i in 1..=6 {
        assert!(
            sink.document(&format!("order-{i}")).is_some(),
            "order-{i} lost"
        );
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_partial_batch_is_flushed_after_the_flush_timeout() {
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let config = RunnerConfig {
        batch_size: 100,
        flush_timeout_ms: 200,
        ..fast()
    };
    let runner = std::sync::Arc::new(
        ProjectionRunner::new(store.clone(), Orders("orders".into()))
            .with_sink(sink.clone())
            .with_config(config)
            .unwrap(),
    );
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(std::future::pending()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    append(&store, "order-1", &[placed("ada", 1)]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        sink.document("order-1").is_none(),
        "flushed before the timeout"
    );
    eventually(3, "flush after timeout", || async {
        sink.document("order-1").is_some()
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn several_projections_keep_their_own_checkpoints_and_lag() {
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("ada", 1)]).await;
    append(&store, "customer-1", &[registered("ada")]).await;
    let orders = MemorySink::new();
    let customers = MemorySink::new();
    customers.set_down(true);
    let set = ProjectionSet::new()
        .with(
            ProjectionRunner::new(store.clone(), Orders("orders".into()))
                .with_sink(orders.clone())
                .with_config(fast())
                .unwrap(),
        )
        .with(
            ProjectionRunner::new(store.clone(), Customers("customers".into()))
                .with_sink(customers.clone())
                .with_config(fast())
                .unwrap(),
        );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let s = set.clone();
    let task = tokio::spawn(async move { s.run(async { stopped.await.unwrap_or(()) }).await });
    eventually(5, "orders projected", || async {
        orders.document("order-1").is_some()
    })
    .await;

    let lags = set.lags().await.unwrap();
    assert_eq!(lags[0].0, "orders");
    assert_eq!(lags[0].1.events_behind, 0);
    assert_eq!(lags[1].0, "customers");
    assert_eq!(
        lags[1].1.events_behind, 2,
        "customers is held back by its own sink only"
    );
    assert_ne!(
        store.load_checkpoint("projection:orders").await.unwrap(),
        store.load_checkpoint("projection:customers").await.unwrap()
    );

    customers.set_down(false);
    eventually(5, "customers projected", || async {
        customers.document("customer-1").is_some()
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn events_it_does_not_handle_move_the_checkpoint_and_bad_payloads_stop_it() {
    let store = MemoryStore::new();
    append(&store, "x", &[ShopEvent::Noise, ShopEvent::Noise]).await;
    let sink = MemorySink::new();
    let runner =
        ProjectionRunner::new(store.clone(), Orders("orders".into())).with_sink(sink.clone());
    assert_eq!(runner.catch_up().await.unwrap(), 2);
    assert_eq!(runner.lag().await.unwrap().events_behind, 0);
    assert!(sink.documents().is_empty());

    let bad = keel_core::NewEvent {
        event_type: "OrderPlaced".into(),
        payload: json!({"customer": 5}),
        ..keel_core::NewEvent::from_domain(&placed("a", 1)).unwrap()
    };
    store
        .append("order-9", keel_core::ExpectedVersion::Any, vec![bad])
        .await
        .unwrap();
    let before = runner.checkpoint().await.unwrap();
    let err = runner.catch_up().await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { stream_id, .. } if stream_id == "order-9"),
        "{err}"
    );
    assert_eq!(runner.checkpoint().await.unwrap(), before);
}

#[tokio::test]
async fn a_runner_without_sink_is_a_config_error() {
    let runner = ProjectionRunner::new(MemoryStore::new(), Orders("orders".into()));
    assert!(matches!(
        runner.catch_up().await,
        Err(Error::Config { key: "sinks", .. })
    ));
}
