//! The saga store conformance suite on SQLite (in memory).
#![cfg(feature = "sqlite")]

async fn store() -> keel_sagas::store::SqliteSagaStore {
    keel_sagas::store::SqliteSagaStore::connect("sqlite::memory:")
        .await
        .expect("open SQLite")
}

keel_sagas::saga_store_conformance!(store().await);
