//! Saga state in memory, for fixtures and unit tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{DeadLetter, InboxStore, SagaStore};
use crate::instance::{SagaInstance, SagaState};
use crate::message::ReplyOutcome;
use crate::{Error, Result};

#[derive(Debug, Default)]
struct Inner {
    instances: HashMap<(String, String), SagaInstance>,
    dead_letters: Vec<DeadLetter>,
    inbox: HashMap<(String, String), ReplyOutcome>,
}

/// Saga instances, dead letters and an inbox in memory; clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemorySagaStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemorySagaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn select(&self, keep: impl Fn(&SagaInstance) -> bool) -> Vec<SagaInstance> {
        self.lock()
            .instances
            .values()
            .filter(|i| keep(i))
            .cloned()
            .collect()
    }
}

fn key(saga_type: &str, saga_id: &str) -> (String, String) {
    (saga_type.to_owned(), saga_id.to_owned())
}

#[async_trait]
impl SagaStore for MemorySagaStore {
    async fn insert(&self, instance: &SagaInstance) -> Result<()> {
        let mut inner = self.lock();
        let k = key(&instance.saga_type, &instance.saga_id);
        if inner.instances.contains_key(&k) {
            return Err(Error::SagaExists {
                saga_type: k.0,
                saga_id: k.1,
            });
        }
        inner.instances.insert(k, instance.clone());
        Ok(())
    }

    async fn update(&self, instance: &SagaInstance) -> Result<()> {
        let mut inner = self.lock();
        let expected = instance.version.saturating_sub(1);
        match inner
            .instances
            .get_mut(&key(&instance.saga_type, &instance.saga_id))
        {
            Some(stored) if stored.version == expected => {
                *stored = instance.clone();
                Ok(())
            }
            _ => Err(Error::Conflict {
                saga_type: instance.saga_type.clone(),
                saga_id: instance.saga_id.clone(),
                expected,
            }),
        }
    }

    async fn load(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaInstance>> {
        Ok(self.lock().instances.get(&key(saga_type, saga_id)).cloned())
    }

    async fn in_flight(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        Ok(self.select(|i| i.saga_type == saga_type && i.state.is_active()))
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaInstance>> {
        let mut due = self.select(|i| {
            i.saga_type == saga_type && i.state.is_active() && i.deadline.is_some_and(|d| d <= now)
        });
        due.sort_by_key(|i| i.deadline);
        due.truncate(limit);
        Ok(due)
    }

    async fn parked(&self, saga_type: &str) -> Result<Vec<SagaInstance>> {
        Ok(self.select(|i| i.saga_type == saga_type && i.state == SagaState::Parked))
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        self.lock().dead_letters.push(letter.clone());
        Ok(())
    }

    async fn dead_letters(&self, saga_id: &str) -> Result<Vec<DeadLetter>> {
        Ok(self
            .lock()
            .dead_letters
            .iter()
            .filter(|l| l.reply.saga_id == saga_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl InboxStore for MemorySagaStore {
    async fn recorded(&self, participant: &str, key: &str) -> Result<Option<ReplyOutcome>> {
        Ok(self
            .lock()
            .inbox
            .get(&(participant.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn record(&self, participant: &str, key: &str, outcome: &ReplyOutcome) -> Result<bool> {
        let mut inner = self.lock();
        let k = (participant.to_owned(), key.to_owned());
        if inner.inbox.contains_key(&k) {
            return Ok(false);
        }
        inner.inbox.insert(k, outcome.clone());
        Ok(true)
    }
}
