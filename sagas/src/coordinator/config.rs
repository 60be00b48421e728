//! The coordinator's settings.

use std::time::Duration;

use serde::Deserialize;

/// How a [`Coordinator`](crate::Coordinator) behaves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CoordinatorConfig {
    /// Tries of one compensation before the saga is parked (and counted as an error).
    pub max_compensation_attempts: u32,
    /// How often [`Coordinator::run`](crate::Coordinator::run) looks for due deadlines.
    #[serde(with = "millis")]
    pub tick: Duration,
    /// How many due instances one look handles per saga type.
    pub due_batch: usize,
    /// How many active instances the coordinator keeps in memory after storing them, so that
    /// a reply is applied without reading its instance first (default 10,000; 0 keeps none).
    /// Updates stay guarded by the stored version, so a stale entry costs a re-read, never a
    /// wrong transition.
    pub cached_instances: usize,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            max_compensation_attempts: 10,
            tick: Duration::from_millis(200),
            due_batch: 256,
            cached_instances: 10_000,
        }
    }
}

impl CoordinatorConfig {
    /// Sets [`CoordinatorConfig::max_compensation_attempts`].
    pub fn max_compensation_attempts(mut self, attempts: u32) -> Self {
        self.max_compensation_attempts = attempts.max(1);
        self
    }

    /// Sets [`CoordinatorConfig::cached_instances`].
    pub fn cached_instances(mut self, instances: usize) -> Self {
        self.cached_instances = instances;
        self
    }

    /// Sets [`CoordinatorConfig::tick`].
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
