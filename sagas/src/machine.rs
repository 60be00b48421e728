//! The saga state machine: pure transitions from an instance and an input to the next instance
//! and the command to send. No I/O: the coordinator persists the result, then sends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::definition::SagaDefinition;
use crate::instance::{Awaiting, SagaInstance, SagaState};
use crate::message::{
    CommandEnvelope, CommandKind, Reply, ReplyOutcome, command_id, idempotency_key,
};

/// The result of one transition.
#[derive(Debug)]
pub(crate) struct Transition {
    /// The next state, with its version bumped.
    pub(crate) instance: SagaInstance,
    /// The command to send after persisting, if any.
    pub(crate) command: Option<CommandEnvelope>,
    /// Set when this transition parked the saga.
    pub(crate) parked: bool,
}

/// Why a reply does not apply to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// The instance finished.
    Finished,
    /// The reply is for another step, kind or try than the one in flight.
    NotCurrent,
}

fn deadline(now: DateTime<Utc>, after: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX)
}

/// The command the instance has in flight now.
pub(crate) fn current_command(
    def: &SagaDefinition,
    inst: &SagaInstance,
) -> Option<CommandEnvelope> {
    if !inst.state.is_active() {
        return None;
    }
    let step = def.steps().get(inst.current_step)?;
    let kind = inst.current_kind();
    let spec = match kind {
        CommandKind::Action => &step.action,
        CommandKind::Compensation => step.compensation.as_ref()?,
    };
    Some(CommandEnvelope {
        command_id: command_id(
            &inst.saga_type,
            &inst.saga_id,
            inst.current_step,
            inst.attempt,
            kind,
        ),
        idempotency_key: idempotency_key(&inst.saga_type, &inst.saga_id, inst.current_step, kind),
        saga_type: inst.saga_type.clone(),
        saga_id: inst.saga_id.clone(),
        step: inst.current_step,
        step_name: step.name.clone(),
        attempt: inst.attempt,
        kind,
        participant: spec.participant.clone(),
        command_type: spec.command_type.clone(),
        payload: (spec.payload)(&inst.data),
        headers: Default::default(),
    })
}

/// The first state of a new instance and its first command.
pub(crate) fn begin(
    def: &SagaDefinition,
    saga_id: &str,
    data: Value,
    now: DateTime<Utc>,
) -> Transition {
    let instance = SagaInstance {
        saga_type: def.saga_type().to_owned(),
        saga_id: saga_id.to_owned(),
        state: SagaState::Running,
        current_step: 0,
        attempt: 1,
        awaiting: Awaiting::Reply,
        data,
        completed_steps: Vec::new(),
        pending_compensations: Vec::new(),
        compensated_steps: Vec::new(),
        deadline: None,
        failure: None,
        trace: Default::default(),
        version: 1,
    };
    send_current(def, instance, now)
}

/// Checks that a reply answers the command in flight (any try of it up to the current one:
/// participants deduplicate by step, so an earlier try's reply is the step's true outcome).
pub(crate) fn matches(inst: &SagaInstance, reply: &Reply) -> Result<(), Mismatch> {
    if !inst.state.is_active() {
        return Err(Mismatch::Finished);
    }
    let kind = inst.current_kind();
    let expected = command_id(
        &inst.saga_type,
        &inst.saga_id,
        inst.current_step,
        reply.attempt,
        kind,
    );
    if reply.step != inst.current_step
        || reply.kind != kind
        || reply.attempt == 0
        || reply.attempt > inst.attempt
        || reply.command_id != expected
    {
        return Err(Mismatch::NotCurrent);
    }
    Ok(())
}

/// Applies a reply that [`matches`] the instance.
pub(crate) fn on_reply(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    outcome: ReplyOutcome,
    now: DateTime<Utc>,
    max_compensation_attempts: u32,
) -> Transition {
    inst.version += 1;
    match (inst.state, outcome) {
        (SagaState::Running, ReplyOutcome::Success { data }) => {
            merge(&mut inst.data, data);
            inst.completed_steps.push(inst.current_step);
            if inst.current_step + 1 < def.steps().len() {
                inst.current_step += 1;
                inst.attempt = 1;
                send_current(def, inst, now)
            } else {
                finish(inst, SagaState::Completed)
            }
        }
        (SagaState::Running, ReplyOutcome::Failure { reason }) => {
            let step = step_name(def, inst.current_step);
            // A refused step took no effect: only the completed ones are undone.
            compensate(
                def,
                inst,
                format!("step `{step}` failed: {reason}"),
                now,
                None,
            )
        }
        (SagaState::Compensating, ReplyOutcome::Success { .. }) => {
            inst.compensated_steps.push(inst.current_step);
            inst.pending_compensations
                .retain(|s| *s != inst.current_step);
            next_compensation(def, inst, now)
        }
        (SagaState::Compensating, ReplyOutcome::Failure { reason }) => {
            retry_compensation(def, inst, reason, now, max_compensation_attempts)
        }
        // `matches` admits replies only to active instances; anything else changes nothing.
        (_, _) => Transition {
            instance: inst,
            command: None,
            parked: false,
        },
    }
}

/// The instance's deadline passed.
pub(crate) fn on_deadline(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    now: DateTime<Utc>,
    max_compensation_attempts: u32,
) -> Transition {
    inst.version += 1;
    let Some(step) = def.steps().get(inst.current_step) else {
        return park(inst, "the current step is not in the definition".into());
    };
    match (inst.awaiting, inst.state) {
        (Awaiting::Retry, _) => send_current(def, inst, now),
        (Awaiting::Reply, SagaState::Running) => {
            if inst.attempt < step.retry.max_attempts {
                let delay = step.retry.backoff(inst.attempt);
                inst.attempt += 1;
                wait_then_send(def, inst, delay, now)
            } else {
                let reason = format!(
                    "step `{}` timed out after {} attempts",
                    step.name, inst.attempt
                );
                // Its replies may all have been lost after it took effect: undo it too, first.
                let timed_out = inst.current_step;
                compensate(def, inst, reason, now, Some(timed_out))
            }
        }
        (Awaiting::Reply, SagaState::Compensating) => retry_compensation(
            def,
            inst,
            "compensation timed out".into(),
            now,
            max_compensation_attempts,
        ),
        _ => Transition {
            instance: inst,
            command: None,
            parked: false,
        },
    }
}

fn step_name(def: &SagaDefinition, step: usize) -> String {
    def.steps()
        .get(step)
        .map_or_else(|| step.to_string(), |s| s.name.clone())
}

fn merge(data: &mut Value, reply: Value) {
    if let (Value::Object(into), Value::Object(from)) = (&mut *data, reply) {
        into.extend(from);
    }
}

fn send_current(def: &SagaDefinition, mut inst: SagaInstance, now: DateTime<Utc>) -> Transition {
    let timeout = def
        .steps()
        .get(inst.current_step)
        .map_or(Duration::ZERO, |s| s.timeout);
    inst.awaiting = Awaiting::Reply;
    inst.deadline = Some(deadline(now, timeout));
    let command = current_command(def, &inst);
    Transition {
        instance: inst,
        command,
        parked: false,
    }
}

fn wait_then_send(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    delay: Duration,
    now: DateTime<Utc>,
) -> Transition {
    if delay.is_zero() {
        return send_current(def, inst, now);
    }
    inst.awaiting = Awaiting::Retry;
    inst.deadline = Some(deadline(now, delay));
    Transition {
        instance: inst,
        command: None,
        parked: false,
    }
}

/// Starts compensating: `timed_out` (a step whose outcome is unknown) first, then the
/// completed steps in reverse order, each that declares a compensation.
fn compensate(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    reason: String,
    now: DateTime<Utc>,
    timed_out: Option<usize>,
) -> Transition {
    inst.failure = Some(reason);
    inst.state = SagaState::Compensating;
    inst.pending_compensations = timed_out
        .into_iter()
        .chain(inst.completed_steps.iter().rev().copied())
        .filter(|s| {
            def.steps()
                .get(*s)
                .is_some_and(|d| d.compensation.is_some())
        })
        .collect();
    next_compensation(def, inst, now)
}

fn next_compensation(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    now: DateTime<Utc>,
) -> Transition {
    match inst.pending_compensations.first() {
        Some(step) => {
            inst.current_step = *step;
            inst.attempt = 1;
            send_current(def, inst, now)
        }
        None => finish(inst, SagaState::Compensated),
    }
}

fn retry_compensation(
    def: &SagaDefinition,
    mut inst: SagaInstance,
    reason: String,
    now: DateTime<Utc>,
    max_attempts: u32,
) -> Transition {
    if inst.attempt >= max_attempts {
        let step = step_name(def, inst.current_step);
        return park(
            inst,
            format!("compensation of step `{step}` failed {max_attempts} times, last: {reason}"),
        );
    }
    let delay = def
        .steps()
        .get(inst.current_step)
        .map_or(Duration::ZERO, |s| s.retry.backoff(inst.attempt));
    inst.attempt += 1;
    wait_then_send(def, inst, delay, now)
}

fn park(mut inst: SagaInstance, reason: String) -> Transition {
    inst.failure = Some(reason);
    let mut t = finish(inst, SagaState::Parked);
    t.parked = true;
    t
}

fn finish(mut inst: SagaInstance, state: SagaState) -> Transition {
    inst.state = state;
    inst.awaiting = Awaiting::Nothing;
    inst.deadline = None;
    Transition {
        instance: inst,
        command: None,
        parked: false,
    }
}
