//! The saga store conformance suite in memory.

keel_sagas::saga_store_conformance!(keel_sagas::store::MemorySagaStore::new());
