//! The Redis sink against the real Redis of `make up`.

#![cfg(feature = "integration")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::proxy::Proxy;
use common::*;
use keel_core::Position;
use keel_core::store::{CheckpointStore, MemoryStore};
use keel_core::testing::stack;
use keel_projections::sinks::redis::{RedisFormat, RedisSink, RedisSinkConfig};
use keel_projections::{Change, Op, ProjectionRunner, RunnerConfig, Sink};
use redis::AsyncCommands;
use serde_json::json;

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(stack::redis().url)
        .expect("talking to the test service")
        .get_multiplexed_async_connection()
        .await
        .expect("talking to the test service")
}

async fn cleanup(prefix: &str) {
    let mut c = conn().await;
    let keys: Vec<String> = c
        .keys(format!("{prefix}*"))
        .await
        .expect("talking to the test service");
    if !keys.is_empty() {
        let _: () = c.del(keys).await.expect("talking to the test service");
    }
}

/// Every key under `prefix` with its type and content, for before/after comparisons.
async fn dump(prefix: &str) -> Vec<(String, String)> {
    let mut c = conn().await;
    let mut keys: Vec<String> = c
        .keys(format!("{prefix}*"))
        .await
        .expect("talking to the test service");
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut c)
            .await
            .expect("talking to the test service");
        let value = if kind == "hash" {
            let mut fields: Vec<(String, String)> =
                c.hgetall(&key).await.expect("talking to the test service");
            fields.sort();
            format!("{fields:?}")
        } else {
            c.get::<_, String>(&key)
                .await
                .expect("talking to the test service")
        };
        out.push((key, value));
    }
    out
}

fn config(prefix: &str, format: RedisFormat) -> RedisSinkConfig {
    RedisSinkConfig {
        key_prefix: prefix.to_owned(),
        ttl_secs: Some(600),
        format,
        ..RedisSinkConfig::new(stack::redis().url)
    }
}

#[tokio::test]
async fn replaying_a_range_changes_nothing_in_json_and_hash_format() {
    stack::redis().require();
    for format in [RedisFormat::Json, RedisFormat::Hash] {
        let prefix = format!("{}:", unique("keel-test-orders", '-'));
        let store = MemoryStore::new();
        append(&store, "o-1", &[placed("ada", 4200), cancelled("late")]).await;
        append(&store, "o-2", &[placed("bob", 100)]).await;
        let sink = RedisSink::build(config(&prefix, format)).await.unwrap();
        let runner =
            ProjectionRunner::new(store.clone(), Orders(unique("orders", '-'))).with_sink(sink);
        runner.catch_up().await.unwrap();
        let before = dump(&prefix).await;
        assert_eq!(
            before.len(),
            4,
            "two documents and two version keys: {before:?}"
        );

        store
            .save_checkpoint(runner.checkpoint_name(), Position::START)
            .await
            .unwrap();
        assert_eq!(runner.catch_up().await.unwrap(), 3);
        assert_eq!(dump(&prefix).await, before, "{format:?}");
        cleanup(&prefix).await;
    }
}

#[tokio::test]
async fn an_older_version_is_ignored_and_ttl_is_set() {
    stack::redis().require();
    let prefix = format!("{}:", unique("keel-test-guard", '-'));
    let sink = RedisSink::build(config(&prefix, RedisFormat::Json))
        .await
        .unwrap();
    let write = |version, status: &str| Change {
        key: "o-1".into(),
        version,
        op: Op::Upsert(json!({"status": status})),
    };
    assert_eq!(sink.write(&[write(3, "shipped")]).await.unwrap().written, 1);
    let report = sink.write(&[write(2, "placed")]).await.unwrap();
    assert_eq!((report.written, report.stale), (0, 1));
    let report = sink.write(&[write(3, "other")]).await.unwrap();
    assert_eq!(report.stale, 1, "same version is stale too");

    let mut c = conn().await;
    let doc: String = c.get(format!("{prefix}o-1")).await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&doc).unwrap(),
        json!({"status": "shipped"})
    );
    let ttl: i64 = c.pttl(format!("{prefix}o-1")).await.unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "ttl {ttl}");
    let loaded = sink.load(&["o-1".into(), "nope".into()]).await.unwrap();
    assert_eq!(loaded["o-1"].version, 3);
    assert!(!loaded.contains_key("nope"));
    cleanup(&prefix).await;
}

#[tokio::test]
async fn one_write_lands_its_changes_in_order_with_and_without_ttl() {
    stack::redis().require();
    for (format, ttl_secs) in [
        (RedisFormat::Json, None),
        (RedisFormat::Json, Some(600)),
        (RedisFormat::Hash, None),
        (RedisFormat::Hash, Some(600)),
    ] {
        let prefix = format!("{}:", unique("keel-test-order", '-'));
        let sink = RedisSink::build(RedisSinkConfig {
            ttl_secs,
            ..config(&prefix, format)
        })
        .await
        .unwrap();
        let upsert = |key: &str, version, status: &str| Change {
            key: key.into(),
            version,
            op: Op::Upsert(json!({ "status": status })),
        };
        let delete = |key: &str, version| Change {
            key: key.into(),
            version,
            op: Op::Delete,
        };
        sink.write(&[upsert("a", 1, "placed"), upsert("b", 1, "placed")])
            .await
            .unwrap();
        let report = sink
            .write(&[
                upsert("a", 3, "shipped"),
                delete("b", 2),
                upsert("a", 2, "older, after a newer in the same write"),
                upsert("c", 1, "placed"),
                upsert("b", 3, "back after its delete"),
                upsert("d", 1, "placed"),
                delete("d", 2),
            ])
            .await
            .unwrap();
        let case = format!("{format:?} with ttl {ttl_secs:?}");
        assert_eq!((report.written, report.stale), (6, 1), "{case}");

        let loaded = sink
            .load(&["a".into(), "b".into(), "c".into(), "d".into()])
            .await
            .unwrap();
        let status = |key: &str| {
            let stored = &loaded[key];
            (
                stored.version,
                stored.doc.as_ref().map(|d| d["status"].clone()),
            )
        };
        assert_eq!(status("a"), (3, Some(json!("shipped"))), "{case}");
        assert_eq!(
            status("b"),
            (3, Some(json!("back after its delete"))),
            "{case}"
        );
        assert_eq!(status("c"), (1, Some(json!("placed"))), "{case}");
        assert_eq!(status("d"), (2, None), "{case}: written, then deleted");
        let mut c = conn().await;
        for key in ["a", "b", "c"] {
            for stored in [format!("{prefix}{key}"), format!("{prefix}~version:{key}")] {
                let ttl: i64 = c.pttl(&stored).await.unwrap();
                match ttl_secs {
                    None => assert_eq!(ttl, -1, "{case}: {stored} expires"),
                    Some(_) => assert!(ttl > 0 && ttl <= 600_000, "{case}: {stored} pttl {ttl}"),
                }
            }
        }
        cleanup(&prefix).await;
    }
}

#[tokio::test]
async fn an_order_cancelled_keeps_its_hash_and_a_customer_erased_loses_its_key() {
    stack::redis().require();
    let prefix = format!("{}:", unique("keel-test-shop", '-'));
    let store = MemoryStore::new();
    append(&store, "o-1", &[placed("ada", 4200)]).await;
    append(&store, "c-1", &[registered("ada")]).await;
    let orders = ProjectionRunner::new(store.clone(), Orders(unique("orders", '-'))).with_sink(
        RedisSink::build(config(&format!("{prefix}o:"), RedisFormat::Hash))
            .await
            .unwrap(),
    );
    let customers = ProjectionRunner::new(store.clone(), Customers(unique("customers", '-')))
        .with_sink(
            RedisSink::build(config(&format!("{prefix}c:"), RedisFormat::Json))
                .await
                .unwrap(),
        );
    orders.catch_up().await.unwrap();
    customers.catch_up().await.unwrap();
    let mut c = conn().await;
    assert!(c.exists::<_, bool>(format!("{prefix}c:c-1")).await.unwrap());

    append(&store, "o-1", &[cancelled("late")]).await;
    append(&store, "c-1", &[ShopEvent::CustomerErased]).await;
    orders.catch_up().await.unwrap();
    customers.catch_up().await.unwrap();

    let status: String = c.hget(format!("{prefix}o:o-1"), "status").await.unwrap();
    let total: String = c
        .hget(format!("{prefix}o:o-1"), "total_cents")
        .await
        .unwrap();
    assert_eq!((status.as_str(), total.as_str()), ("cancelled", "4200"));
    assert!(
        !c.exists::<_, bool>(format!("{prefix}c:c-1")).await.unwrap(),
        "erased customer's key remains"
    );

    // A late re-delivery of the registration does not bring the customer back.
    store
        .save_checkpoint(customers.checkpoint_name(), Position::START)
        .await
        .unwrap();
    customers.catch_up().await.unwrap();
    assert!(!c.exists::<_, bool>(format!("{prefix}c:c-1")).await.unwrap());
    cleanup(&prefix).await;
}

#[tokio::test]
async fn a_redis_outage_mid_run_holds_the_checkpoint_and_loses_nothing() {
    let service = stack::redis().require();
    let proxy = Proxy::start(service.addr.clone()).await;
    let prefix = format!("{}:", unique("keel-test-outage", '-'));
    let sink = RedisSink::build(
        RedisSinkConfig {
            timeout_ms: 300,
            ..config(&prefix, RedisFormat::Json)
        }
        .with_url(format!("redis://{}/", proxy.addr)),
    )
    .await
    .unwrap();
    let store = MemoryStore::new();
    let runner = Arc::new(
        ProjectionRunner::new(store.clone(), Orders(unique("orders", '-')))
            .with_sink(sink)
            .with_config(RunnerConfig {
                batch_size: 10,
                flush_timeout_ms: 20,
                retry_backoff_ms: 20,
                max_retry_backoff_ms: 200,
                poll_interval_ms: 50,
                ..RunnerConfig::default()
            })
            .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });

    for i in 0..5 {
        append(&store, &format!("o-{i}"), &[placed("ada", i)]).await;
    }
    eventually(10, "first events projected", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    let committed = runner.checkpoint().await.unwrap();

    proxy.pause();
    for i in 5..20 {
        append(&store, &format!("o-{i}"), &[placed("bob", i)]).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        committed,
        "checkpoint advanced during the outage"
    );
    assert_eq!(runner.lag().await.unwrap().events_behind, 15);

    proxy.resume();
    eventually(15, "catch-up after the outage", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    let mut c = conn().await;
    for i in 0..20 {
        assert!(
            c.exists::<_, bool>(format!("{prefix}o-{i}")).await.unwrap(),
            "o-{i} lost"
        );
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    cleanup(&prefix).await;
}
