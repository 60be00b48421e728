//! The instances a coordinator stored last, kept in memory so that a reply is applied without
//! reading its instance first. A cached instance is only a guess: the update that follows is
//! guarded by its version, so a stale entry (another coordinator moved the saga on) ends in a
//! conflict and a fresh read, and a reply that does not match the cached instance is checked
//! against the store before it is ignored.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::instance::SagaInstance;

type Key = (String, String);

/// Active instances by saga type and id, at most `capacity` of them.
#[derive(Debug)]
pub(super) struct InstanceCache {
    capacity: usize,
    instances: Mutex<HashMap<Key, SagaInstance>>,
}

impl InstanceCache {
    /// A cache of up to `capacity` instances (0 keeps none).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            instances: Mutex::new(HashMap::new()),
        }
    }

    fn instances(&self) -> MutexGuard<'_, HashMap<Key, SagaInstance>> {
        // The map is whole between statements: a poisoned lock can be used as is.
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The instance stored last by this coordinator, if it is still cached.
    pub(super) fn get(&self, saga_type: &str, saga_id: &str) -> Option<SagaInstance> {
        if self.capacity == 0 {
            return None;
        }
        self.instances()
            .get(&(saga_type.to_owned(), saga_id.to_owned()))
            .cloned()
    }

    /// `instance` was stored: keep it while it is active, forget it once it ended. When full,
    /// the cache starts over empty (entries are only a shortcut).
    pub(super) fn stored(&self, instance: &SagaInstance) {
        if self.capacity == 0 {
            return;
        }
        let key = (instance.saga_type.clone(), instance.saga_id.clone());
        let mut instances = self.instances();
        if !instance.state.is_active() {
            instances.remove(&key);
            return;
        }
        if instances.len() >= self.capacity && !instances.contains_key(&key) {
            instances.clear();
        }
        instances.insert(key, instance.clone());
    }

    /// Forgets an instance (it lost a race: the store knows better).
    pub(super) fn forget(&self, saga_type: &str, saga_id: &str) {
        if self.capacity > 0 {
            self.instances()
                .remove(&(saga_type.to_owned(), saga_id.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::SagaState;
    use crate::testing::conformance::instance;

    #[test]
    fn keeps_active_instances_and_forgets_ended_ones() {
        let cache = InstanceCache::new(10);
        let mut saga = instance("t", "s-1");
        cache.stored(&saga);
        assert_eq!(cache.get("t", "s-1"), Some(saga.clone()));
        saga.state = SagaState::Completed;
        cache.stored(&saga);
        assert_eq!(cache.get("t", "s-1"), None);
    }

    #[test]
    fn starts_over_when_full_and_keeps_nothing_at_capacity_zero() {
        let cache = InstanceCache::new(2);
        for id in ["a", "b", "c"] {
            cache.stored(&instance("t", id));
        }
        assert_eq!(cache.get("t", "a"), None);
        assert!(cache.get("t", "c").is_some());
        let none = InstanceCache::new(0);
        none.stored(&instance("t", "a"));
        assert_eq!(none.get("t", "a"), None);
    }

    #[test]
    fn forgets_on_request() {
        let cache = InstanceCache::new(10);
        cache.stored(&instance("t", "a"));
        cache.forget("t", "a");
        assert_eq!(cache.get("t", "a"), None);
    }
}
