//! Runs a participant's reactions as a keel-core subscription handler.

use std::collections::HashSet;
use std::future::Future;

use async_trait::async_trait;
use chrono::Utc;
use keel_core::store::{CheckpointStore, ExpectedVersion};
use keel_core::subscription::{EventHandler, HandlerError, Subscription};
use keel_core::{EventStore, Metadata, NewEvent, RecordedEvent};
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use super::dead_letter::{
    DEAD_LETTER_TYPE, Poison, ReactionDeadLetter, ReactionRetry, dead_letter_stream,
};
use super::definition::ChoreographyStep;
use super::participant::{Choreographed, Outcome, ReactionKind, Trigger};

/// Namespace of the ids of events appended by reactors (UUID v5).
const REACTION_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_656c_5f72_6561_6374_696f_6e00_0002);

/// Runs participant `P`'s reactions: for each event, every step or compensation of `P` that
/// reacts to its type runs, in a span (`keel.choreography.react` or
/// `keel.choreography.compensate`) that continues the event's trace, and the event its
/// [`Outcome`] names is appended to `store` with the trigger's correlation id, the trigger as
/// cause, and a deterministic id, so a re-delivered trigger appends nothing new.
///
/// ```text
/// Reactor::new(Inventory::new(store.clone()), store).run(shutdown).await?;
/// ```
///
/// [`ChoreographyFixture`](crate::testing::ChoreographyFixture) runs one the same way, on one
/// event at a time.
pub struct Reactor<P, S> {
    participant: P,
    store: S,
    steps: Vec<ChoreographyStep>,
    /// Every event type the participant's steps declare.
    declared: HashSet<String>,
    /// How a failed reaction is retried before it is dead-lettered.
    retry: ReactionRetry,
}

impl<P, S> std::fmt::Debug for Reactor<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// What one reaction did, for its span and log line.
fn outcome_name(step: &ChoreographyStep, kind: ReactionKind, appended: &[String]) -> &'static str {
    let emitted = |t: &str| appended.iter().any(|a| a == t);
    match kind {
        ReactionKind::Step if emitted(&step.emits) => "succeeded",
        ReactionKind::Step if step.fails.as_deref().is_some_and(emitted) => "failed",
        ReactionKind::Compensation
            if step
                .compensation
                .as_ref()
                .is_some_and(|c| emitted(&c.emits)) =>
        {
            "compensated"
        }
        _ => "nothing",
    }
}

impl<P: Choreographed, S: EventStore> Reactor<P, S> {
    /// A reactor running `participant`'s reactions, appending to `store`.
    pub fn new(participant: P, store: S) -> Self {
        let steps = P::steps();
        let declared = steps
            .iter()
            .flat_map(|s| {
                std::iter::once(s.emits.clone())
                    .chain(s.fails.clone())
                    .chain(s.compensation.as_ref().map(|c| c.emits.clone()))
            })
            .collect();
        Self {
            participant,
            store,
            steps,
            declared,
            retry: ReactionRetry::default(),
        }
    }

    /// How a reaction that fails (with an error that is not [`Poison`]) is retried before its
    /// trigger is dead-lettered; [`ReactionRetry::default`] unless set.
    #[must_use]
    pub fn retry(mut self, retry: ReactionRetry) -> Self {
        self.retry = ReactionRetry {
            attempts: retry.attempts.max(1),
            ..retry
        };
        self
    }

    /// The name of its subscription (its checkpoint's key):
    /// `choreography:<choreography>:<participant>`.
    pub fn subscription_name() -> String {
        format!("choreography:{}:{}", P::CHOREOGRAPHY, P::PARTICIPANT)
    }

    /// The participant.
    pub fn participant(&self) -> &P {
        &self.participant
    }

    /// The id of the event the reactor appends for `step`'s `kind` reaction to `trigger`.
    pub fn reaction_id(step: &str, kind: ReactionKind, trigger: &RecordedEvent) -> Uuid {
        let name = format!(
            "{}/{}/{step}/{}/{}",
            P::CHOREOGRAPHY,
            P::PARTICIPANT,
            kind.as_str(),
            trigger.event_id
        );
        Uuid::new_v5(&REACTION_NAMESPACE, name.as_bytes())
    }

    /// The reactions of the participant to an event of type `event_type`: each step whose
    /// trigger it is, and each compensation it triggers, in declaration order.
    fn reactions<'a>(
        &'a self,
        event_type: &'a str,
    ) -> impl Iterator<Item = (&'a ChoreographyStep, ReactionKind)> + 'a {
        self.steps.iter().flat_map(move |step| {
            let compensation = step.compensation.as_ref().map(|c| &c.on);
            std::iter::once((ReactionKind::Step, &step.on))
                .chain(compensation.map(|on| (ReactionKind::Compensation, on)))
                .filter(move |(_, on)| on.iter().any(|t| t == event_type))
                .map(move |(kind, _)| (step, kind))
        })
    }

    /// Runs every reaction of the participant to `event` once; returns the types of the events
    /// appended for it (by the reactor or, as reported, by the handlers). The first error
    /// stops it and is returned as is: this is what [`ChoreographyFixture`] runs. The
    /// subscription ([`run`](Self::run)) retries and dead-letters instead.
    ///
    /// [`ChoreographyFixture`]: crate::testing::ChoreographyFixture
    pub async fn react(&self, event: &RecordedEvent) -> Result<Vec<String>, HandlerError> {
        let mut appended = Vec::new();
        for (step, kind) in self.reactions(&event.event_type) {
            appended.extend(self.react_once(step, kind, event).await?);
        }
        Ok(appended)
    }

    /// Runs every reaction of the participant to `event` as its subscription does: a reaction
    /// that fails is tried again per [`ReactionRetry`]; a [`Poison`] trigger, or the last
    /// failed attempt, is dead-lettered with its reason and the next reaction runs. Errs only
    /// when a dead letter cannot be stored (the event is then delivered again).
    pub async fn react_or_dead_letter(
        &self,
        event: &RecordedEvent,
    ) -> Result<Vec<String>, HandlerError> {
        let mut appended = Vec::new();
        for (step, kind) in self.reactions(&event.event_type) {
            let mut attempt = 1;
            loop {
                match self.react_once(step, kind, event).await {
                    Ok(types) => {
                        appended.extend(types);
                        break;
                    }
                    Err(error) if !Poison::is(&error) && attempt < self.retry.attempts => {
                        let wait = self.retry.wait_after(attempt);
                        tracing::warn!(
                            participant = P::PARTICIPANT,
                            step = %step.name,
                            kind = kind.as_str(),
                            trigger = %event.event_id,
                            attempt,
                            %error,
                            ?wait,
                            "a reaction failed; trying it again"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    Err(error) => {
                        self.dead_letter(step, kind, event, attempt, error.to_string())
                            .await?;
                        break;
                    }
                }
            }
        }
        Ok(appended)
    }

    /// Stores the dead letter of `kind` reaction of `step` to `event`.
    async fn dead_letter(
        &self,
        step: &ChoreographyStep,
        kind: ReactionKind,
        event: &RecordedEvent,
        attempts: u32,
        reason: String,
    ) -> Result<(), HandlerError> {
        tracing::error!(
            participant = P::PARTICIPANT,
            step = %step.name,
            kind = kind.as_str(),
            trigger = %event.event_id,
            trigger_type = %event.event_type,
            position = %event.position,
            attempts,
            %reason,
            "a reaction is dead-lettered; the participant goes on"
        );
        let letter = ReactionDeadLetter::new(
            (P::CHOREOGRAPHY, P::PARTICIPANT),
            &step.name,
            kind,
            event,
            attempts,
            reason,
        );
        let payload = serde_json::to_value(&letter)
            .map_err(|e| format!("a dead letter does not serialize: {e}"))?;
        let id = Self::reaction_id(&format!("{}#dead-letter", step.name), kind, event);
        let metadata = Trigger::new(event).metadata().clone();
        self.append(
            id,
            &dead_letter_stream(P::CHOREOGRAPHY),
            DEAD_LETTER_TYPE,
            payload,
            metadata,
        )
        .await
    }

    /// One reaction, once, in its span (`keel.choreography.react` or
    /// `keel.choreography.compensate`), continuing the trigger's trace.
    async fn react_once(
        &self,
        step: &ChoreographyStep,
        kind: ReactionKind,
        event: &RecordedEvent,
    ) -> Result<Vec<String>, HandlerError> {
        let span = match kind {
            ReactionKind::Step => tracing::info_span!(
                "keel.choreography.react",
                choreography = P::CHOREOGRAPHY,
                participant = P::PARTICIPANT,
                step = %step.name,
                trigger = %event.event_type,
                correlation_id = ?event.metadata.correlation_id,
                outcome = tracing::field::Empty,
            ),
            ReactionKind::Compensation => tracing::info_span!(
                "keel.choreography.compensate",
                choreography = P::CHOREOGRAPHY,
                participant = P::PARTICIPANT,
                step = %step.name,
                trigger = %event.event_type,
                correlation_id = ?event.metadata.correlation_id,
                outcome = tracing::field::Empty,
            ),
        };
        keel_core::telemetry::set_parent_from_metadata(&span, &event.metadata);
        let types = match self
            .reaction(step, kind, event)
            .instrument(span.clone())
            .await
        {
            Ok(types) => types,
            Err(error) => {
                span.record("outcome", "error");
                return Err(error);
            }
        };
        let outcome = outcome_name(step, kind, &types);
        span.record("outcome", outcome);
        tracing::debug!(
            participant = P::PARTICIPANT,
            step = %step.name,
            kind = kind.as_str(),
            trigger = %event.event_id,
            outcome,
            "reacted"
        );
        Ok(types)
    }

    /// One reaction: the handler, then the append its outcome asks for.
    async fn reaction(
        &self,
        step: &ChoreographyStep,
        kind: ReactionKind,
        event: &RecordedEvent,
    ) -> Result<Vec<String>, HandlerError> {
        let trigger = Trigger::new(event);
        let outcome = self.participant.react(&step.name, kind, &trigger).await?;
        let (event_type, stream_id, payload) = match (outcome, kind) {
            (Outcome::Succeeded { stream_id, payload }, ReactionKind::Step) => {
                (step.emits.clone(), stream_id, payload)
            }
            (Outcome::Succeeded { stream_id, payload }, ReactionKind::Compensation) => {
                let emits = step.compensation.as_ref().map(|c| c.emits.clone());
                (emits.unwrap_or_default(), stream_id, payload)
            }
            (Outcome::Failed { stream_id, payload }, ReactionKind::Step) => {
                let fails = step.fails.clone().ok_or_else(|| {
                    Poison::new(format!(
                        "step `{}` of `{}` failed, but declares no `fails` event",
                        step.name,
                        P::PARTICIPANT
                    ))
                })?;
                (fails, stream_id, payload)
            }
            (Outcome::Failed { .. }, ReactionKind::Compensation) => {
                return Err(Poison::new(format!(
                    "the compensation of step `{}` of `{}` returned a failure: a compensation \
                     must succeed eventually; return an error to have it retried",
                    step.name,
                    P::PARTICIPANT
                ))
                .into());
            }
            (Outcome::Recorded(events), kind) => {
                self.check_recorded(step, kind, event, &events);
                return Ok(events.into_iter().map(|e| e.event_type).collect());
            }
        };
        let id = Self::reaction_id(&step.name, kind, trigger.event());
        let metadata = keel_core::telemetry::with_current_context(trigger.metadata().clone());
        self.append(id, &stream_id, &event_type, payload, metadata)
            .await?;
        Ok(vec![event_type])
    }

    /// Appends one event the reactor emits (a reaction's or a dead letter) to `stream_id`.
    async fn append(
        &self,
        event_id: Uuid,
        stream_id: &str,
        event_type: &str,
        payload: Value,
        metadata: Metadata,
    ) -> Result<(), HandlerError> {
        let event = NewEvent {
            event_id,
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload,
            metadata,
            occurred_at: Utc::now(),
        };
        self.store
            .append(stream_id, ExpectedVersion::Any, vec![event])
            .await
            .map_err(|e| Box::new(crate::Error::from(e)) as HandlerError)?;
        Ok(())
    }

    /// Logs events a handler recorded that do not match its declaration: a type the
    /// participant declares for another reaction, or a missing correlation id (the saga view
    /// would not see the event). They are stored already, so the subscription goes on.
    fn check_recorded(
        &self,
        step: &ChoreographyStep,
        kind: ReactionKind,
        trigger: &RecordedEvent,
        events: &[RecordedEvent],
    ) {
        let allowed: Vec<&str> = match kind {
            ReactionKind::Step => std::iter::once(step.emits.as_str())
                .chain(step.fails.as_deref())
                .collect(),
            ReactionKind::Compensation => {
                step.compensation.iter().map(|c| c.emits.as_str()).collect()
            }
        };
        for event in events {
            if !self.declared.contains(&event.event_type) {
                continue; // a side effect (another aggregate's event), not a declared outcome
            }
            if !allowed.contains(&event.event_type.as_str()) {
                tracing::error!(
                    participant = P::PARTICIPANT,
                    step = %step.name,
                    kind = kind.as_str(),
                    recorded = %event.event_type,
                    declared = ?allowed,
                    "a reaction recorded an event it does not declare"
                );
            }
            if event.metadata.correlation_id != trigger.metadata.correlation_id {
                tracing::warn!(
                    participant = P::PARTICIPANT,
                    step = %step.name,
                    recorded = %event.event_type,
                    "a reaction recorded an event without its trigger's correlation id; pass \
                     `trigger.metadata()` when appending, or the saga view will not see it"
                );
            }
        }
    }
}

impl<P: Choreographed, S: EventStore + CheckpointStore + Clone> Reactor<P, S> {
    /// Runs the reactor's subscription ([`subscription_name`](Self::subscription_name)) from
    /// its checkpoint until `shutdown`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> crate::Result<()> {
        let subscription = Subscription::new(self.store.clone(), Self::subscription_name());
        subscription.run(&mut self, shutdown).await?;
        Ok(())
    }
}

#[async_trait]
impl<P: Choreographed, S: EventStore> EventHandler for Reactor<P, S> {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.react_or_dead_letter(event).await.map(|_| ())
    }
}
