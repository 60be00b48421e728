//! A saga instance: the durable state of one run of a saga.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::CommandKind;

/// Where a saga instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    /// Running its steps forward.
    Running,
    /// Undoing its completed steps in reverse order.
    Compensating,
    /// Every step succeeded (final).
    Completed,
    /// A step failed and every completed step was undone (final).
    Compensated,
    /// A compensation kept failing past the limit: an operator must look (final until then).
    Parked,
}

impl SagaState {
    /// Whether the instance still has work to do.
    pub fn is_active(self) -> bool {
        matches!(self, SagaState::Running | SagaState::Compensating)
    }

    /// The state's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaState::Running => "running",
            SagaState::Compensating => "compensating",
            SagaState::Completed => "completed",
            SagaState::Compensated => "compensated",
            SagaState::Parked => "parked",
        }
    }
}

impl fmt::Display for SagaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an active instance waits for until its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Awaiting {
    /// A reply to the current command; the deadline is its timeout.
    Reply,
    /// The end of a backoff; at the deadline the current command is sent (again).
    Retry,
    /// Nothing (final states).
    Nothing,
}

/// The durable state of one saga instance. It is written before every command is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaInstance {
    /// The saga type.
    pub saga_type: String,
    /// The instance id, unique per type.
    pub saga_id: String,
    /// Where it is in its life.
    pub state: SagaState,
    /// The step being run (or compensated).
    pub current_step: usize,
    /// The try of the current command (from 1).
    pub attempt: u32,
    /// What it waits for.
    pub awaiting: Awaiting,
    /// The saga's data (JSON); successful replies merge their data into it.
    pub data: Value,
    /// Steps whose action succeeded, in order.
    pub completed_steps: Vec<usize>,
    /// Completed steps still to compensate, next first (reverse order of completion).
    pub pending_compensations: Vec<usize>,
    /// Steps compensated so far, in the order they were.
    pub compensated_steps: Vec<usize>,
    /// When the current wait ends (reply timeout or end of backoff).
    pub deadline: Option<DateTime<Utc>>,
    /// Why the saga compensates, or why it was parked.
    pub failure: Option<String>,
    /// W3C trace context of the saga's root span; step spans are its children.
    pub trace: HashMap<String, String>,
    /// Bumped by every stored change (optimistic concurrency).
    pub version: u64,
}

impl SagaInstance {
    /// Whether the current command is an action or a compensation.
    pub fn current_kind(&self) -> CommandKind {
        if self.state == SagaState::Compensating {
            CommandKind::Compensation
        } else {
            CommandKind::Action
        }
    }
}
