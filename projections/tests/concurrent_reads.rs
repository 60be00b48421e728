//! A catch-up reading several pages of a real PostgreSQL store at the same time
//! (`read.concurrency`): every event once, in the global order, whatever the page sizes.

#![cfg(feature = "integration")]

mod common;

use common::*;
use keel_core::Position;
use keel_core::store::{CheckpointStore, EventStore, PostgresStore};
use keel_core::testing::stack;
use keel_projections::sinks::MemorySink;
use keel_projections::{ProjectionRunner, RunnerConfig};
use serde_json::json;
use sqlx::AssertSqlSafe;

/// A database of its own, so the history is only this test's; dropped at the end.
struct TempDatabase {
    admin: PostgresStore,
    name: String,
}

impl TempDatabase {
    async fn create() -> (Self, PostgresStore) {
        let url = stack::postgres().require().url;
        let admin = PostgresStore::connect(&url).await.expect("connect");
        let name = unique("keel_test_reads", '_');
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .expect("create the test's database");
        let base = url.split('?').next().unwrap_or(&url);
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        let store = PostgresStore::connect(&format!("{root}/{name}"))
            .await
            .expect("connect to the test's database");
        (Self { admin, name }, store)
    }

    async fn drop_database(self, store: PostgresStore) {
        store.pool().close().await;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(self.admin.pool())
        .await
        .expect("drop the test's database");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_at_the_same_time_project_every_event_in_order() {
    let (db, store) = TempDatabase::create().await;
    // 40 orders placed one append each, then every third cancelled in a later append: a
    // cancellation projected before its order's placement would leave the order `placed`.
    for i in 0..40 {
        append(&store, &format!("order-{i}"), &[placed("ada", i)]).await;
    }
    for i in (0..40).step_by(3) {
        append(&store, &format!("order-{i}"), &[cancelled("late")]).await;
    }
    let total = 40 + 14;
    // The horizon is the server's: another database's transaction may hold our last appends
    // back for a moment (ADR 0002).
    eventually(10, "every append readable", || {
        let store = store.clone();
        async move { store.read_all(Position::START, 1_000).await.unwrap().len() == total }
    })
    .await;
    let head = store.head().await.unwrap();
    for (read_size, concurrency, batch) in [(5, 3, 2), (7, 4, 7), (3, 1, 3), (100, 4, 10)] {
        let sink = MemorySink::new();
        let name = format!("reads-{read_size}-{concurrency}-{batch}");
        let runner = ProjectionRunner::new(store.clone(), Orders(name.clone()))
            .with_sink(sink.clone())
            .with_config(RunnerConfig {
                batch_size: batch,
                read_size,
                read_concurrency: concurrency,
                ..RunnerConfig::default()
            })
            .unwrap();
        assert_eq!(runner.catch_up().await.unwrap(), total, "{name}");
        assert_eq!(sink.documents().len(), 40, "{name}");
        for i in 0..40 {
            let status = if i % 3 == 0 { "cancelled" } else { "placed" };
            let reason = (i % 3 == 0).then_some("late");
            assert_eq!(
                sink.document(&format!("order-{i}")),
                Some(
                    json!({"customer": "ada", "total_cents": i, "status": status, "reason": reason})
                ),
                "{name}: order-{i}"
            );
        }
        let checkpoint = store
            .load_checkpoint(&format!("projection:{name}"))
            .await
            .unwrap();
        assert_eq!(checkpoint, Some(head), "{name}: checkpointed at the head");
        // Nothing more to read: a second catch-up reads nothing.
        assert_eq!(runner.catch_up().await.unwrap(), 0, "{name}");
    }
    db.drop_database(store).await;
}
