//! Test support shipped with the crate: the given/when/then [`AggregateFixture`], the store
//! [`conformance`] suite every backend passes, a [`CountingStore`] that counts what a store
//! returns, and [`stack`]: where the local stack's services are (for integration tests).

pub mod conformance;
mod counting;
mod fixture;
pub mod stack;

pub use counting::CountingStore;
pub use fixture::{AggregateFixture, Then};
