//! Durable saga state: one pair of traits, three backends (in memory, SQLite, PostgreSQL) that
//! pass one conformance suite ([`crate::testing::conformance`]).

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemorySagaStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresSagaStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSagaStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::instance::SagaInstance;
use crate::message::{Reply, ReplyOutcome};

/// A reply that could not be applied, kept with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The reply as received.
    pub reply: Reply,
    /// Why it was dead-lettered.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Stores saga instances and dead-lettered replies.
#[async_trait]
pub trait SagaStore: Send + Sync + 'static {
    /// Stores a new instance; [`Error::SagaExists`](crate::Error::SagaExists) if one with the
    /// same type and id is stored.
    async fn insert(&self, instance: &SagaInstance) -> Result<()>;

    /// Replaces the stored instance if it is at version `instance.version - 1`; otherwise
    /// [`Error::Conflict`](crate::Error::Conflict).
    async fn update(&self, instance: &SagaInstance) -> Result<()>;

    /// The instance with this type and id.
    async fn load(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaInstance>>;

    /// Every active (running or compensating) instance of a type.
    async fn in_flight(&self, saga_type: &str) -> Result<Vec<SagaInstance>>;

    /// Up to `limit` active instances of a type whose deadline is at or before `now`, oldest
    /// deadline first.
    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaInstance>>;

    /// Every parked instance of a type.
    async fn parked(&self, saga_type: &str) -> Result<Vec<SagaInstance>>;

    /// Keeps a reply that could not be applied.
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<()>;

    /// The dead letters of a saga id, oldest first.
    async fn dead_letters(&self, saga_id: &str) -> Result<Vec<DeadLetter>>;
}

/// A participant's inbox: the outcome recorded per handled command, keyed by the command's
/// idempotency key, so a command is handled at most once.
#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
    /// The outcome recorded for `key` by `participant`, if it handled it.
    async fn recorded(&self, participant: &str, key: &str) -> Result<Option<ReplyOutcome>>;

    /// Records the outcome; returns `false` (and keeps the first) if one was recorded already.
    async fn record(&self, participant: &str, key: &str, outcome: &ReplyOutcome) -> Result<bool>;
}
