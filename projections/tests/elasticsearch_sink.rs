//! The Elasticsearch sink against the real Elasticsearch of `make up`.

#![cfg(feature = "integration")]

mod common;

use common::*;
use keel_core::Position;
use keel_core::store::{CheckpointStore, MemoryStore};
use keel_core::testing::stack;
use keel_projections::sinks::elasticsearch::{ElasticsearchSink, ElasticsearchSinkConfig};
use keel_projections::{Change, Error, Op, ProjectionRunner, Sink};
use serde_json::{Value, json};

fn url() -> String {
    stack::elasticsearch().require().url
}

fn mapping() -> Value {
    json!({
        "customer": {"type": "keyword"},
        "total_cents": {"type": "long"},
        "status": {"type": "keyword"},
        "reason": {"type": "text"},
    })
}

fn config(index: &str) -> ElasticsearchSinkConfig {
    ElasticsearchSinkConfig::new(url(), index).with_mapping(mapping())
}

/// The stored document with its version, `None` when absent (a realtime GET, no refresh needed).
async fn get(index: &str, id: &str) -> Option<(u64, Value)> {
    let reply: Value = reqwest::get(format!("{}/{index}/_doc/{id}", url()))
        .await
        .expect("talking to the test service")
        .json()
        .await
        .expect("talking to the test service");
    (reply["found"] == true).then(|| {
        (
            reply["_version"]
                .as_u64()
                .expect("talking to the test service"),
            reply["_source"].clone(),
        )
    })
}

async fn drop_index(index: &str) {
    reqwest::Client::new()
        .delete(format!("{}/{index}", url()))
        .send()
        .await
        .expect("talking to the test service");
}

#[tokio::test]
async fn the_index_is_created_with_its_mapping_and_replaying_changes_nothing() {
    let index = unique("keel-test-orders", '-');
    let store = MemoryStore::new();
    append(&store, "o-1", &[placed("ada", 4200), cancelled("late")]).await;
    append(&store, "o-2", &[placed("bob", 100)]).await;
    let runner = ProjectionRunner::new(store.clone(), Orders(unique("orders", '-')))
        .with_sink(ElasticsearchSink::build(config(&index)).await.unwrap());
    runner.catch_up().await.unwrap();

    let mapping: Value = reqwest::get(format!("{}/{index}/_mapping", url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mapping[&index]["mappings"]["properties"]["status"]["type"],
        "keyword"
    );
    let before = (get(&index, "o-1").await, get(&index, "o-2").await);
    assert_eq!(
        before.0.as_ref().map(|(v, d)| (*v, d["status"].clone())),
        Some((2, json!("cancelled")))
    );
    assert_eq!(before.1.as_ref().map(|(v, _)| *v), Some(1));

    store
        .save_checkpoint(runner.checkpoint_name(), Position::START)
        .await
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!((get(&index, "o-1").await, get(&index, "o-2").await), before);
    drop_index(&index).await;
}

#[tokio::test]
async fn an_older_version_gets_a_conflict_counted_as_stale() {
    let index = unique("keel-test-guard", '-');
    let sink = ElasticsearchSink::build(config(&index)).await.unwrap();
    let write = |version, status: &str| Change {
        key: "o-1".into(),
        version,
        op: Op::Upsert(json!({"status": status})),
    };
    assert_eq!(sink.write(&[write(5, "shipped")]).await.unwrap().written, 1);
    let report = sink
        .write(&[write(4, "placed"), write(5, "again")])
        .await
        .unwrap();
    assert_eq!((report.written, report.stale), (0, 2));
    assert!(report.rejected.is_empty());
    assert_eq!(
        get(&index, "o-1").await,
        Some((5, json!({"status": "shipped"})))
    );
    let loaded = sink.load(&["o-1".into(), "o-2".into()]).await.unwrap();
    assert_eq!(loaded["o-1"].version, 5);
    assert!(!loaded.contains_key("o-2"));
    drop_index(&index).await;
}

#[tokio::test]
async fn a_customer_erased_removes_the_document_for_good() {
    let index = unique("keel-test-customers", '-');
    let store = MemoryStore::new();
    append(&store, "c-1", &[registered("ada")]).await;
    append(&store, "c-2", &[registered("bob")]).await;
    let runner = ProjectionRunner::new(store.clone(), Customers(unique("customers", '-')))
        .with_sink(
            ElasticsearchSink::build(ElasticsearchSinkConfig::new(url(), &index))
                .await
                .unwrap(),
        );
    runner.catch_up().await.unwrap();
    assert!(get(&index, "c-1").await.is_some());

    append(&store, "c-1", &[ShopEvent::CustomerErased]).await;
    runner.catch_up().await.unwrap();
    assert_eq!(get(&index, "c-1").await, None);
    assert!(get(&index, "c-2").await.is_some());

    // Re-delivering the registration (version 1) after the delete (version 2) is refused.
    store
        .save_checkpoint(runner.checkpoint_name(), Position::START)
        .await
        .unwrap();
    runner.catch_up().await.unwrap();
    assert_eq!(get(&index, "c-1").await, None);
    drop_index(&index).await;
}

#[tokio::test]
async fn a_mapping_conflict_is_an_error_naming_the_field() {
    let index = unique("keel-test-conflict", '-');
    ElasticsearchSink::build(config(&index)).await.unwrap();
    let other = config(&index).with_mapping(json!({"total_cents": {"type": "keyword"}}));
    let err = ElasticsearchSink::build(other).await.unwrap_err();
    match &err {
        Error::MappingConflict {
            field,
            expected,
            actual,
            ..
        } => {
            assert_eq!(
                (field.as_str(), expected.as_str(), actual.as_str()),
                ("total_cents", "keyword", "long")
            );
        }
        other => panic!("expected a mapping conflict, got {other}"),
    }
    assert!(err.to_string().contains("`total_cents`"), "{err}");

    // A field the index lacks is added.
    let more = config(&index).with_mapping(json!({"channel": {"type": "keyword"}}));
    ElasticsearchSink::build(more).await.unwrap();
    let mapping: Value = reqwest::get(format!("{}/{index}/_mapping", url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mapping[&index]["mappings"]["properties"]["channel"]["type"],
        "keyword"
    );
    drop_index(&index).await;
}

#[tokio::test]
async fn a_rejected_document_is_reported_with_its_key_and_reason_and_the_rest_is_written() {
    let index = unique("keel-test-rejected", '-');
    let sink = ElasticsearchSink::build(config(&index)).await.unwrap();
    let report = sink
        .write(&[
            Change {
                key: "good".into(),
                version: 1,
                op: Op::Upsert(json!({"total_cents": 5})),
            },
            Change {
                key: "bad".into(),
                version: 1,
                op: Op::Upsert(json!({"total_cents": "lots"})),
            },
        ])
        .await
        .unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].key, "bad");
    assert!(
        report.rejected[0].reason.contains("total_cents"),
        "{}",
        report.rejected[0].reason
    );
    assert!(get(&index, "good").await.is_some());
    drop_index(&index).await;
}

#[tokio::test]
async fn an_unreachable_node_is_retryable() {
    stack::elasticsearch().require();
    let err = ElasticsearchSink::build(ElasticsearchSinkConfig::new("http://127.0.0.1:1", "x"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn an_elasticsearch_outage_mid_run_holds_the_checkpoint_and_loses_nothing() {
    let service = stack::elasticsearch().require();
    let proxy = common::proxy::Proxy::start(service.addr.clone()).await;
    let index = unique("keel-test-outage", '-');
    // The index first, without the proxy and its short timeout: creating an index can take
    // longer than 500 ms on a busy node.
    ElasticsearchSink::build(config(&index)).await.unwrap();
    let sink = ElasticsearchSink::build(ElasticsearchSinkConfig {
        timeout_ms: 500,
        ..ElasticsearchSinkConfig::new(format!("http://{}", proxy.addr), &index)
            .with_mapping(mapping())
    })
    .await
    .unwrap();
    let store = MemoryStore::new();
    let runner = std::sync::Arc::new(
        ProjectionRunner::new(store.clone(), Orders(unique("orders", '-')))
            .with_sink(sink)
            .with_config(keel_projections::RunnerConfig {
                batch_size: 10,
                flush_timeout_ms: 20,
                retry_backoff_ms: 20,
                max_retry_backoff_ms: 200,
                poll_interval_ms: 50,
                ..keel_projections::RunnerConfig::default()
            })
            .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = runner.clone();
    let task = tokio::spawn(async move { r.run(async { stopped.await.unwrap_or(()) }).await });

    append(&store, "o-0", &[placed("ada", 1)]).await;
    eventually(10, "first event projected", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    let committed = runner.checkpoint().await.unwrap();

    proxy.pause();
    for i in 1..12 {
        append(&store, &format!("o-{i}"), &[placed("bob", i)]).await;
    }
    append(&store, "o-0", &[cancelled("late")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        committed,
        "checkpoint advanced during the outage"
    );
    assert_eq!(runner.lag().await.unwrap().events_behind, 12);

    proxy.resume();
    eventually(15, "catch-up after the outage", || async {
        runner.lag().await.unwrap().events_behind == 0
    })
    .await;
    for i in 1..12 {
        assert!(get(&index, &format!("o-{i}")).await.is_some(), "o-{i} lost");
    }
    assert_eq!(
        get(&index, "o-0")
            .await
            .map(|(v, d)| (v, d["status"].clone())),
        Some((2, json!("cancelled")))
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    drop_index(&index).await;
}

#[tokio::test]
async fn a_rebuild_under_live_traffic_switches_the_alias_without_readers_seeing_a_partial_model() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let alias = unique("keel-test-rebuild", '-');
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
                ElasticsearchSink::build_behind_alias(config(&alias))
                    .await
                    .unwrap(),
            )
            .with_config(keel_projections::RunnerConfig {
                batch_size: 20,
                flush_timeout_ms: 20,
                poll_interval_ms: 50,
                ..keel_projections::RunnerConfig::default()
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
    let first: Value = reqwest::get(format!("{}/_alias/{alias}", url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_index = first.as_object().unwrap().keys().next().unwrap().clone();
    reqwest::Client::new()
        .post(format!("{}/{alias}/_refresh", url()))
        .send()
        .await
        .unwrap();

    // A reader counting documents through the alias the whole time.
    let reading = Arc::new(AtomicBool::new(true));
    let smallest = Arc::new(AtomicU64::new(u64::MAX));
    let reader = {
        let (reading, smallest, alias) = (reading.clone(), smallest.clone(), alias.clone());
        tokio::spawn(async move {
            while reading.load(Ordering::SeqCst) {
                let count: Value = reqwest::get(format!("{}/{alias}/_count", url()))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                smallest.fetch_min(count["count"].as_u64().unwrap_or(0), Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // Live traffic during the rebuild.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 100..150 {
                append(&store, &format!("o-{i}"), &[placed("bob", i)]).await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            for i in 30..40 {
                append(&store, &format!("o-{i}"), &[cancelled("later")]).await;
            }
        })
    };

    let report = keel_projections::rebuild_elasticsearch(&*live, config(&alias), false)
        .await
        .unwrap();
    writer.await.unwrap();
    eventually(20, "live projection caught up after the switch", || async {
        live.lag().await.unwrap().events_behind == 0
    })
    .await;
    reading.store(false, Ordering::SeqCst);
    reader.await.unwrap();

    assert_eq!(report.old_index.as_deref(), Some(first_index.as_str()));
    assert!(report.events >= 130, "{report:?}");
    assert!(
        smallest.load(Ordering::SeqCst) >= 100,
        "a reader saw {} documents",
        smallest.load(Ordering::SeqCst)
    );
    let now: Value = reqwest::get(format!("{}/_alias/{alias}", url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(now.get(&report.new_index).is_some(), "{now}");
    let old = reqwest::Client::new()
        .head(format!("{}/{first_index}", url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        reqwest::StatusCode::NOT_FOUND,
        "old index not dropped"
    );

    // The model after the switch is the old one plus the events since.
    for i in 0..150 {
        let (version, doc) = get(&alias, &format!("o-{i}"))
            .await
            .unwrap_or_else(|| panic!("o-{i} missing"));
        let status = if i < 40 { "cancelled" } else { "placed" };
        assert_eq!(doc["status"], status, "o-{i}");
        assert_eq!(version, if i < 40 { 2 } else { 1 }, "o-{i}");
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    drop_index(&report.new_index).await;
}
