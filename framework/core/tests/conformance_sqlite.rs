//! The store conformance suite on the SQLite backend, one fresh database file per check.

use keel_core::store::SqliteStore;

async fn fresh() -> SqliteStore {
    let path = std::env::temp_dir().join(format!(
        "keel-conformance-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open sqlite")
}

keel_core::conformance_tests!(fresh(), 100_000);

/// A closed database gives a retryable error, not a panic.
#[tokio::test]
async fn closed_database_is_a_retryable_error() {
    use keel_core::store::{EventStore, ExpectedVersion};
    let store = fresh().await;
    store.pool().close().await;
    let err = store
        .append("s", ExpectedVersion::Any, vec![keel_core::doc::new_event()])
        .await
        .expect_err("closed");
    assert!(err.is_retryable(), "{err}");
}
