//! Test support shipped with the crate: the given/when/then [`AggregateFixture`], the store
//! [`conformance`] suite every backend passes, a [`CountingStore`] that counts what a store
//! returns, and [`stack`]: where the local stack's services are (for integration tests).

pub mod conformance;
mod counting;
mod fixture;
pub mod stack;

pub use counting::CountingStore;
pub use fixture::{AggregateFixture, Then};

/// A name no other test or run uses, for streams, tables, topics, indices and keys:
/// `prefix`, then `sep`, then a fresh UUID in its 32-digit hex form. Use `_` where the name
/// must be an SQL identifier (a MariaDB table), `-` elsewhere.
///
/// ```
/// let topic = keel_core::testing::unique("keel-test-relay", '-');
/// assert!(topic.starts_with("keel-test-relay-"));
/// assert_eq!(topic.len(), "keel-test-relay-".len() + 32);
/// assert_ne!(topic, keel_core::testing::unique("keel-test-relay", '-'));
/// ```
pub fn unique(prefix: &str, sep: char) -> String {
    format!("{prefix}{sep}{}", uuid::Uuid::new_v4().simple())
}
