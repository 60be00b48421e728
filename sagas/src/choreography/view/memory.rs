//! The saga view in memory, for tests and fixtures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use keel_core::RecordedEvent;
use keel_core::subscription::{EventHandler, HandlerError};
use uuid::Uuid;

use super::{ChoreographyState, ChoreographyStatus, ChoreographyView, StatusQuery, fold};
use crate::choreography::Choreography;

/// The saga view in memory: run it as a keel-core subscription handler from the start of the
/// store (a subscription name unique per process, since nothing survives a restart). Clones
/// share the view.
///
/// ```
/// use keel_sagas::choreography::{Choreography, ChoreographyStep, MemoryChoreographyView};
///
/// let view = MemoryChoreographyView::new(
///     Choreography::new("order").step(ChoreographyStep::new("orders", "place", "OrderPlaced")),
/// )?;
/// # Ok::<(), keel_sagas::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MemoryChoreographyView {
    choreography: Arc<Choreography>,
    statuses: Arc<Mutex<BTreeMap<Uuid, ChoreographyStatus>>>,
}

impl MemoryChoreographyView {
    /// An empty view of `choreography` (checked with [`Choreography::validate`]).
    pub fn new(choreography: Choreography) -> crate::Result<Self> {
        Ok(Self {
            choreography: Arc::new(choreography.validate()?),
            statuses: Arc::default(),
        })
    }

    /// Folds one event in (ignored without a correlation id, when not one of the
    /// choreography's types, or when already seen).
    pub fn apply(&self, event: &RecordedEvent) {
        let Some(id) = event.metadata.correlation_id else {
            return;
        };
        let mut statuses = self.lock();
        if let Some(next) = fold(&self.choreography, statuses.get(&id).cloned(), event) {
            statuses.insert(id, next);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Uuid, ChoreographyStatus>> {
        self.statuses.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl EventHandler for MemoryChoreographyView {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.apply(event);
        Ok(())
    }
}

#[async_trait]
impl ChoreographyView for MemoryChoreographyView {
    fn choreography(&self) -> &Choreography {
        &self.choreography
    }

    async fn status(&self, correlation_id: Uuid) -> crate::Result<Option<ChoreographyStatus>> {
        Ok(self.lock().get(&correlation_id).cloned())
    }

    async fn find(&self, query: &StatusQuery) -> crate::Result<Vec<ChoreographyStatus>> {
        let now = Utc::now();
        let mut found: Vec<ChoreographyStatus> = self
            .lock()
            .values()
            .filter(|s| query.matches(s, now))
            .cloned()
            .collect();
        found.sort_by_key(|s| (s.updated_at, s.correlation_id));
        if query.newest_first {
            found.reverse();
        }
        found.truncate(query.limit);
        Ok(found)
    }

    async fn counts(&self) -> crate::Result<BTreeMap<ChoreographyState, u64>> {
        let mut counts = BTreeMap::new();
        for status in self.lock().values() {
            *counts.entry(status.state).or_default() += 1;
        }
        Ok(counts)
    }
}
