//! The PostgreSQL saga store's grouped operations run on connections of their own; when the
//! server drops them, the store opens new ones instead of failing forever.
#![cfg(feature = "integration")]

use keel_core::testing::unique;
use keel_sagas::Error;
use keel_sagas::store::{PostgresSagaStore, SagaStore};
use keel_sagas::testing::conformance::instance;
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn the_store_reconnects_after_the_server_dropped_its_connections() {
    let url = keel_core::testing::stack::postgres().require().url;
    let db = unique("keel_test_reconnect", '_');
    let mut admin = PgConnection::connect(&url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let db_url = format!(
        "{}/{db}",
        url.rsplit_once('/').expect("a database in the url").0
    );

    let store = PostgresSagaStore::connect(&db_url).await.expect("store");
    let saga = instance("t", "s-1");
    store.insert(&saga).await.expect("insert");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&db)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert!(!killed.is_empty(), "the store had connections");

    // Each worker's first call meets its dead connection (a retryable error) at most once;
    // after that every call works. Sequential calls go round the workers.
    let mut failures = 0;
    for call in 0..24 {
        match store.load("t", "s-1").await {
            Ok(found) => assert_eq!(found.map(|s| s.saga_id), Some("s-1".to_owned())),
            Err(error) => {
                assert!(error.is_retryable(), "{error}");
                assert!(call < 16, "call {call} still failed: {error}");
                failures += 1;
            }
        }
    }
    assert!(failures <= 4, "{failures} calls failed");
    let again = store.insert(&saga).await.expect_err("exists");
    assert!(matches!(again, Error::SagaExists { .. }), "{again}");

    drop(store);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop the test database");
}
