//! The saga store conformance suite on the PostgreSQL of the local stack (`make up`).
#![cfg(feature = "integration")]

async fn store() -> keel_sagas::store::PostgresSagaStore {
    let url = keel_core::testing::stack::postgres().require().url;
    keel_sagas::store::PostgresSagaStore::connect(&url)
        .await
        .expect("connect to PostgreSQL")
}

keel_sagas::saga_store_conformance!(store().await);
