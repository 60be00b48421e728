//! The saga view of choreographed instances: where each correlation id is.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keel_core::RecordedEvent;
use keel_core::subscription::{EventHandler, HandlerError};
use uuid::Uuid;

use super::Choreography;

/// Where a choreographed instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChoreographyState {
    /// On the happy path, not at its end.
    InProgress,
    /// The last step's event was seen.
    Completed,
    /// A failure was seen; compensations are still missing.
    Compensating,
    /// A failure was seen and every completed step with a compensation was undone.
    Compensated,
}

/// One instance as the view reconstructs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoreographyStatus {
    /// The choreography.
    pub choreography: String,
    /// The correlation id tying its events.
    pub correlation_id: Uuid,
    /// Where it is.
    pub state: ChoreographyState,
    /// The happy-path steps seen, in order of arrival.
    pub steps: Vec<String>,
    /// The failure event seen, if any.
    pub failure: Option<String>,
    /// The compensation events seen.
    pub compensations: Vec<String>,
    /// Every event of the instance: (type, stream id, id), in the order handled.
    pub events: Vec<(String, String, Uuid)>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
}

/// Folds events into a [`ChoreographyStatus`] per correlation id; run it as a keel-core
/// subscription handler. Clones share the view. It lives in memory: run its subscription from
/// the start of the store on boot (a subscription name unique per process).
#[derive(Debug, Clone)]
pub struct ChoreographyView {
    choreography: Arc<Choreography>,
    statuses: Arc<Mutex<BTreeMap<Uuid, ChoreographyStatus>>>,
}

impl ChoreographyView {
    /// A view of `choreography`.
    pub fn new(choreography: Choreography) -> Self {
        Self {
            choreography: Arc::new(choreography),
            statuses: Arc::default(),
        }
    }

    /// The status of the instance with this correlation id.
    pub fn status(&self, correlation_id: Uuid) -> Option<ChoreographyStatus> {
        self.lock().get(&correlation_id).cloned()
    }

    /// Every instance not completed or compensated: where each one stopped.
    pub fn unfinished(&self) -> Vec<ChoreographyStatus> {
        self.lock()
            .values()
            .filter(|s| {
                matches!(
                    s.state,
                    ChoreographyState::InProgress | ChoreographyState::Compensating
                )
            })
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Uuid, ChoreographyStatus>> {
        self.statuses.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Folds one event in (ignored without a correlation id or when not one of the
    /// choreography's types; a repeated event id is not counted twice).
    pub fn apply(&self, event: &RecordedEvent) {
        let c = &self.choreography;
        let Some(correlation_id) = event.metadata.correlation_id else {
            return;
        };
        if !c.involves(&event.event_type) {
            return;
        }
        let mut statuses = self.lock();
        let status = statuses
            .entry(correlation_id)
            .or_insert_with(|| ChoreographyStatus {
                choreography: c.name.clone(),
                correlation_id,
                state: ChoreographyState::InProgress,
                steps: Vec::new(),
                failure: None,
                compensations: Vec::new(),
                events: Vec::new(),
                updated_at: event.recorded_at,
            });
        if status.events.iter().any(|(_, _, id)| *id == event.event_id) {
            return;
        }
        status.events.push((
            event.event_type.clone(),
            event.stream_id.clone(),
            event.event_id,
        ));
        status.updated_at = event.recorded_at;
        let t = &event.event_type;
        if c.steps.contains(t) {
            status.steps.push(t.clone());
        } else if c.failures.contains(t) {
            status.failure = Some(t.clone());
        } else {
            status.compensations.push(t.clone());
        }
        status.state = state_of(c, status);
    }
}

fn state_of(c: &Choreography, s: &ChoreographyStatus) -> ChoreographyState {
    if s.failure.is_some() {
        // One compensation is expected per completed step before the failure, beyond the
        // trigger (the first step), capped by how many compensations are declared.
        let expected = s.steps.len().saturating_sub(1).min(c.compensations.len());
        let seen: HashSet<&str> = s.compensations.iter().map(String::as_str).collect();
        return if seen.len() >= expected {
            ChoreographyState::Compensated
        } else {
            ChoreographyState::Compensating
        };
    }
    if c.steps.last().is_some_and(|last| s.steps.contains(last)) {
        ChoreographyState::Completed
    } else {
        ChoreographyState::InProgress
    }
}

#[async_trait]
impl EventHandler for ChoreographyView {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.apply(event);
        Ok(())
    }
}
