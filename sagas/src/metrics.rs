//! Counters the coordinator keeps; read them with [`SagaMetrics::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

/// The coordinator's counters, shared by its clones.
#[derive(Debug, Default)]
pub struct SagaMetrics {
    started: AtomicU64,
    completed: AtomicU64,
    compensated: AtomicU64,
    parked: AtomicU64,
    commands_sent: AtomicU64,
    replies_ignored: AtomicU64,
    dead_lettered: AtomicU64,
}

/// The counters' values at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Instances started.
    pub started: u64,
    /// Instances that completed every step.
    pub completed: u64,
    /// Instances that compensated every completed step.
    pub compensated: u64,
    /// Instances parked because a compensation kept failing: the error metric to alert on.
    pub parked: u64,
    /// Commands handed to the transport (first tries, retries and re-sends after resume).
    pub commands_sent: u64,
    /// Duplicate or late replies ignored.
    pub replies_ignored: u64,
    /// Replies put in the dead-letter table.
    pub dead_lettered: u64,
}

impl SagaMetrics {
    pub(crate) fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn started(&self) {
        Self::incr(&self.started);
    }
    pub(crate) fn completed(&self) {
        Self::incr(&self.completed);
    }
    pub(crate) fn compensated(&self) {
        Self::incr(&self.compensated);
    }
    pub(crate) fn parked(&self) {
        Self::incr(&self.parked);
    }
    pub(crate) fn command_sent(&self) {
        Self::incr(&self.commands_sent);
    }
    pub(crate) fn reply_ignored(&self) {
        Self::incr(&self.replies_ignored);
    }
    pub(crate) fn dead_lettered(&self) {
        Self::incr(&self.dead_lettered);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            started: get(&self.started),
            completed: get(&self.completed),
            compensated: get(&self.compensated),
            parked: get(&self.parked),
            commands_sent: get(&self.commands_sent),
            replies_ignored: get(&self.replies_ignored),
            dead_lettered: get(&self.dead_lettered),
        }
    }
}
