//! The saga view of choreographed instances: where each correlation id is, or where it
//! stopped, kept current by a checkpointed subscription.
//!
//! | backend | where | subscription |
//! |---|---|---|
//! | [`MemoryChoreographyView`] | memory (tests, fixtures) | `EventHandler` |
//! | `SqliteChoreographyView` (feature `sqlite`) | table `keel_choreography_instances` | `EventHandler`, or `TransactionalHandler` beside a `SqliteStore` |
//! | `PostgresChoreographyView` (feature `postgres`) | table `keel_choreography_instances` | `EventHandler`, or `TransactionalHandler` beside a `PostgresStore` |

mod fold;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Choreography;

pub use memory::MemoryChoreographyView;
#[cfg(feature = "postgres")]
pub use postgres::PostgresChoreographyView;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteChoreographyView;

pub(crate) use fold::fold;

/// Where a choreographed instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChoreographyState {
    /// On the happy path, not at its end.
    Running,
    /// A final step succeeded (one no other step reacts to).
    Completed,
    /// A step failed (or something was undone); completed steps still await their
    /// compensation.
    Compensating,
    /// A step failed and every completed step with a compensation was undone.
    Compensated,
}

impl ChoreographyState {
    /// Every state.
    pub const ALL: [Self; 4] = [
        Self::Running,
        Self::Completed,
        Self::Compensating,
        Self::Compensated,
    ];

    /// Its name in the view's table: `running`, `completed`, `compensating`, `compensated`
    /// (the names of the orchestrated saga states).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Compensating => "compensating",
            Self::Compensated => "compensated",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the instance still waits for something.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }
}

/// One event of an instance, as the view saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEvent {
    /// Its type.
    pub event_type: String,
    /// Its stream.
    pub stream_id: String,
    /// Its id.
    pub event_id: Uuid,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// One instance as the view reconstructs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoreographyStatus {
    /// The choreography.
    pub choreography: String,
    /// The correlation id tying its events.
    pub correlation_id: Uuid,
    /// Where it is.
    pub state: ChoreographyState,
    /// The steps that succeeded, in the order seen.
    pub completed: Vec<String>,
    /// The steps that were undone, in the order seen.
    pub compensated: Vec<String>,
    /// The event that turned it to compensation: a step's failure, or the first compensation.
    pub failure: Option<String>,
    /// What it waits for: the next steps (running), or the steps whose compensation is missing,
    /// latest completed first (compensating). Empty once finished.
    pub awaiting: Vec<String>,
    /// Every event of the instance, in the order handled.
    pub events: Vec<SeenEvent>,
    /// When its first event was recorded.
    pub started_at: DateTime<Utc>,
    /// When its last event was recorded: how long it has stood still is measured from here.
    pub updated_at: DateTime<Utc>,
}

/// Which instances [`ChoreographyView::find`] returns.
///
/// ```
/// use std::time::Duration;
/// use keel_sagas::choreography::{ChoreographyState, StatusQuery};
///
/// // Instances waiting for step `capture` for more than 30 s, the longest waiting first.
/// let stuck = StatusQuery::stuck("capture", Duration::from_secs(30));
/// assert_eq!(stuck.states, [ChoreographyState::Running, ChoreographyState::Compensating]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    /// Only these states (every state when empty).
    pub states: Vec<ChoreographyState>,
    /// Only instances whose first awaited step is this one.
    pub awaiting: Option<String>,
    /// Only instances whose last event is older than this.
    pub idle_for: Option<Duration>,
    /// Latest updated first (default: longest idle first).
    pub newest_first: bool,
    /// At most this many (default 100).
    pub limit: usize,
}

impl Default for StatusQuery {
    fn default() -> Self {
        Self {
            states: Vec::new(),
            awaiting: None,
            idle_for: None,
            newest_first: false,
            limit: 100,
        }
    }
}

impl StatusQuery {
    /// Every instance.
    pub fn all() -> Self {
        Self::default()
    }

    /// Instances in `state`.
    pub fn in_state(state: ChoreographyState) -> Self {
        Self {
            states: vec![state],
            ..Self::default()
        }
    }

    /// Instances still running or compensating.
    pub fn unfinished() -> Self {
        Self {
            states: vec![ChoreographyState::Running, ChoreographyState::Compensating],
            ..Self::default()
        }
    }

    /// Unfinished instances waiting for `step` (or its compensation) for longer than `idle`.
    pub fn stuck(step: impl Into<String>, idle: Duration) -> Self {
        Self::unfinished().awaiting(step).idle_for(idle)
    }

    /// Only instances whose first awaited step is `step`.
    #[must_use]
    pub fn awaiting(mut self, step: impl Into<String>) -> Self {
        self.awaiting = Some(step.into());
        self
    }

    /// Only instances with no event for longer than `idle`.
    #[must_use]
    pub fn idle_for(mut self, idle: Duration) -> Self {
        self.idle_for = Some(idle);
        self
    }

    /// Latest updated first.
    #[must_use]
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// At most `n` instances.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// The `updated_at` an instance must be older than, if any.
    pub(crate) fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.idle_for
            .map(|idle| now - chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX))
    }

    /// Whether `status` is one this query asks for (the order and limit aside).
    pub(crate) fn matches(&self, status: &ChoreographyStatus, now: DateTime<Utc>) -> bool {
        (self.states.is_empty() || self.states.contains(&status.state))
            && self
                .awaiting
                .as_ref()
                .is_none_or(|step| status.awaiting.first() == Some(step))
            && self
                .cutoff(now)
                .is_none_or(|cutoff| status.updated_at < cutoff)
    }
}

/// Reading a saga view: one instance by correlation id, instances by state, waiting step and
/// idle time, and counts per state. Every backend passes
/// [`choreography_view_conformance!`](crate::choreography_view_conformance).
#[async_trait]
pub trait ChoreographyView: Send + Sync {
    /// The choreography it follows.
    fn choreography(&self) -> &Choreography;

    /// The instance with this correlation id.
    async fn status(&self, correlation_id: Uuid) -> crate::Result<Option<ChoreographyStatus>>;

    /// The instances `query` asks for, ordered by `updated_at` (then correlation id).
    async fn find(&self, query: &StatusQuery) -> crate::Result<Vec<ChoreographyStatus>>;

    /// How many instances are in each state (states with none are left out).
    async fn counts(&self) -> crate::Result<BTreeMap<ChoreographyState, u64>>;
}
