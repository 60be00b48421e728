//! The store conformance suite on the in-memory backend.

use keel_core::store::MemoryStore;

keel_core::conformance_tests!(async { MemoryStore::new() }, 100_000);
