//! Rebuilding a Redis read model into a new key generation, against the real Redis of `make up`.

#![cfg(feature = "integration")]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use keel_core::store::MemoryStore;
use keel_core::testing::stack;
use keel_projections::sinks::redis::{RedisFormat, RedisReader, RedisSink, RedisSinkConfig};
use keel_projections::{ProjectionRunner, RunnerConfig, rebuild_redis};
use redis::AsyncCommands;

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(stack::redis().url)
        .expect("talking to the test service")
        .get_multiplexed_async_connection()
        .await
        .expect("talking to the test service")
}

async fn keys(pattern: &str) -> Vec<String> {
    conn()
        .await
        .keys(pattern)
        .await
        .expect("talking to the test service")
}

async fn cleanup(prefix: &str) {
    let found = keys(&format!("{prefix}*")).await;
    if !found.is_empty() {
        let _: () = conn()
            .await
            .del(found)
            .await
            .expect("talking to the test service");
    }
}

fn config(prefix: &str, format: RedisFormat) -> RedisSinkConfig {
    RedisSinkConfig {
        key_prefix: prefix.to_owned(),
        ttl_secs: Some(600),
        format,
        ..RedisSinkConfig::new(stack::redis().url)
    }
}

fn order_keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("o-{i}")).collect()
}

#[tokio::test]
async fn a_rebuild_under_live_traffic_switches_the_generation_without_readers_seeing_a_partial_model()
 {
    stack::redis().require();
    let prefix = format!("{}:", unique("keel-test-regen", '-'));
    let config = config(&prefix, RedisFormat::Json);
    let store = MemoryStore::new();
    for i in 0..100 {
        append(&store, &format!("o-{i}"), &[placed("ada", i)]).await;
    }
    for i in 0..30 {
        append(&store, &format!("o-{i}"), &[cancelled("late")]).await;
    }
    let live = Arc::new(
        ProjectionRunner::new(store.clone(), Orders(unique("orders", '-')))
            .with_sink(
                RedisSink::build_with_generations(config.clone())
                    .await
                    .unwrap(),
            )
            .with_config(RunnerConfig {
                batch_size: 20,
                flush_timeout_ms: 20,
                poll_interval_ms: 50,
                ..RunnerConfig::default()
            })
            .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = live.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });
    eventually(20, "live projection caught up", || async {
        live.lag().await.unwrap().events_behind == 0
    })
    .await;
    let reader = RedisReader::connect(config.clone()).await.unwrap();
    let first = reader.generation().await.unwrap().unwrap();
    assert_eq!(
        reader.get("o-0").await.unwrap().unwrap()["status"],
        "cancelled"
    );

    // A reader reading the first 100 orders through the pointer the whole time.
    let reading = Arc::new(AtomicBool::new(true));
    let smallest = Arc::new(AtomicUsize::new(usize::MAX));
    let wrong = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::new(Mutex::new(HashSet::<String>::new()));
    let reader_task = {
        let (reading, smallest, wrong, seen, reader) = (
            reading.clone(),
            smallest.clone(),
            wrong.clone(),
            seen.clone(),
            reader.clone(),
        );
        tokio::spawn(async move {
            let keys = order_keys(100);
            while reading.load(Ordering::SeqCst) {
                if let Some(g) = reader.generation().await.unwrap() {
                    seen.lock().unwrap().insert(g);
                }
                let docs = reader.get_many(&keys).await.unwrap();
                smallest.fetch_min(docs.len(), Ordering::SeqCst);
                for i in 0..30 {
                    let key = format!("o-{i}");
                    if docs.get(&key).map(|d| d["status"].clone()) != Some("cancelled".into()) {
                        wrong
                            .lock()
                            .unwrap()
                            .push(format!("{key}: {:?}", docs.get(&key)));
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Live traffic during the rebuild.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 100..150 {
                append(&store, &format!("o-{i}"), &[placed("bob", i)]).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            for i in 30..40 {
                append(&store, &format!("o-{i}"), &[cancelled("later")]).await;
            }
        })
    };

    let report = rebuild_redis(&*live, config.clone(), false).await.unwrap();
    writer.await.unwrap();
    eventually(20, "live projection caught up after the switch", || async {
        live.lag().await.unwrap().events_behind == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    reading.store(false, Ordering::SeqCst);
    reader_task.await.unwrap();

    assert_eq!(report.old_index.as_deref(), Some(first.as_str()));
    assert_ne!(report.new_index, first);
    assert!(report.events >= 130, "{report:?}");
    assert_eq!(
        smallest.load(Ordering::SeqCst),
        100,
        "a reader saw an incomplete model"
    );
    assert_eq!(*wrong.lock().unwrap(), Vec::<String>::new());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&first) && seen.contains(&report.new_index),
        "the reader did not read across the switch: {seen:?}"
    );
    assert_eq!(
        reader.generation().await.unwrap().as_deref(),
        Some(report.new_index.as_str())
    );
    assert_eq!(
        keys(&format!("{prefix}~{first}:*")).await,
        Vec::<String>::new(),
        "old generation not dropped"
    );

    // The model after the switch is the old one plus the events since.
    let docs = reader.get_many(&order_keys(150)).await.unwrap();
    let mut c = conn().await;
    let new_prefix = config.generation_prefix(&report.new_index);
    for i in 0..150 {
        let doc = docs
            .get(&format!("o-{i}"))
            .unwrap_or_else(|| panic!("o-{i} missing"));
        let status = if i < 40 { "cancelled" } else { "placed" };
        assert_eq!(doc["status"], status, "o-{i}");
        let version: u64 = c.get(format!("{new_prefix}~version:o-{i}")).await.unwrap();
        assert_eq!(version, if i < 40 { 2 } else { 1 }, "o-{i}");
    }
    let ttl: i64 = c.pttl(format!("{new_prefix}o-149")).await.unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "ttl {ttl}");

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    cleanup(&prefix).await;
}

#[tokio::test]
async fn a_rebuild_replaces_a_hash_model_and_the_reader_decodes_it() {
    stack::redis().require();
    let prefix = format!("{}:", unique("keel-test-regen-hash", '-'));
    let config = config(&prefix, RedisFormat::Hash);
    let store = MemoryStore::new();
    append(&store, "o-1", &[placed("ada", 4200), cancelled("late")]).await;
    append(&store, "o-2", &[placed("bob", 100)]).await;
    let live = ProjectionRunner::new(store.clone(), Orders(unique("orders", '-'))).with_sink(
        RedisSink::build_with_generations(config.clone())
            .await
            .unwrap(),
    );
    live.catch_up().await.unwrap();
    // A document only the old generation has (say, written by an older handler) is gone after.
    let first = RedisReader::connect(config.clone())
        .await
        .unwrap()
        .generation()
        .await
        .unwrap()
        .unwrap();
    let _: () = conn()
        .await
        .hset(format!("{prefix}~{first}:o-stale"), "status", "ghost")
        .await
        .unwrap();

    let report = rebuild_redis(&live, config.clone(), false).await.unwrap();
    assert_eq!(report.events, 3);
    let reader = RedisReader::connect(config).await.unwrap();
    assert_eq!(
        reader.get("o-1").await.unwrap(),
        Some(
            serde_json::json!({"customer": "ada", "total_cents": 4200, "status": "cancelled", "reason": "late"})
        )
    );
    assert_eq!(reader.get("o-stale").await.unwrap(), None);
    assert_eq!(reader.get("o-3").await.unwrap(), None);

    // The live runner writes on into the new generation.
    append(&store, "o-3", &[placed("cy", 7)]).await;
    live.catch_up().await.unwrap();
    assert_eq!(reader.get("o-3").await.unwrap().unwrap()["customer"], "cy");
    assert_eq!(
        keys(&format!("{prefix}~{first}:*")).await,
        Vec::<String>::new()
    );
    cleanup(&prefix).await;
}
