//! What travels between the coordinator and participants: commands and replies.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The namespace of deterministic command ids (UUID v5).
const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_656c_5f73_6167_615f_636d_6431_0001);

/// Whether a command does a step's work or undoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// The step's action.
    Action,
    /// The step's compensation.
    Compensation,
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandKind::Action => "action",
            CommandKind::Compensation => "compensation",
        })
    }
}

/// The deterministic id of one try of one command: the same saga, step, attempt and kind always
/// give the same id, so a re-sent command is recognisably the same.
pub fn command_id(
    saga_type: &str,
    saga_id: &str,
    step: usize,
    attempt: u32,
    kind: CommandKind,
) -> Uuid {
    Uuid::new_v5(
        &COMMAND_NAMESPACE,
        format!("{saga_type}/{saga_id}/{step}/{attempt}/{kind}").as_bytes(),
    )
}

/// The key a participant deduplicates by: the same for every try of one step's action (or
/// compensation), so a retry after a lost reply never takes effect twice.
pub fn idempotency_key(saga_type: &str, saga_id: &str, step: usize, kind: CommandKind) -> String {
    format!("{saga_type}/{saga_id}/{step}/{kind}")
}

/// A command sent to a participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandEnvelope {
    /// Deterministic id of this try ([`command_id`]).
    pub command_id: Uuid,
    /// What the participant deduplicates by ([`idempotency_key`]).
    pub idempotency_key: String,
    /// The saga type.
    pub saga_type: String,
    /// The saga instance.
    pub saga_id: String,
    /// The step index (from 0).
    pub step: usize,
    /// The step's name.
    pub step_name: String,
    /// The try number (from 1).
    pub attempt: u32,
    /// Action or compensation.
    pub kind: CommandKind,
    /// The participant addressed.
    pub participant: String,
    /// The command's type name.
    pub command_type: String,
    /// The command's payload.
    pub payload: Value,
    /// W3C trace context (`traceparent`, `tracestate`) of the span that sent it.
    pub headers: HashMap<String, String>,
}

impl CommandEnvelope {
    /// The reply that reports `outcome` for this command.
    pub fn reply(&self, outcome: ReplyOutcome) -> Reply {
        Reply {
            command_id: self.command_id,
            saga_type: self.saga_type.clone(),
            saga_id: self.saga_id.clone(),
            step: self.step,
            attempt: self.attempt,
            kind: self.kind,
            outcome,
        }
    }
}

/// What a participant reports for a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ReplyOutcome {
    /// The command took effect. An object `data` is merged into the saga's data.
    Success {
        /// Data for the saga (`null` for none).
        data: Value,
    },
    /// The participant refused the command for a business reason; the saga compensates.
    Failure {
        /// Why.
        reason: String,
    },
}

impl ReplyOutcome {
    /// Success without data.
    pub fn success() -> Self {
        ReplyOutcome::Success { data: Value::Null }
    }

    /// A business failure.
    pub fn failure(reason: impl Into<String>) -> Self {
        ReplyOutcome::Failure {
            reason: reason.into(),
        }
    }
}

/// A participant's reply to one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The command replied to.
    pub command_id: Uuid,
    /// The saga type.
    pub saga_type: String,
    /// The saga instance.
    pub saga_id: String,
    /// The step index.
    pub step: usize,
    /// The try replied to.
    pub attempt: u32,
    /// Action or compensation.
    pub kind: CommandKind,
    /// What happened.
    pub outcome: ReplyOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_deterministic_and_distinct() {
        let a = command_id("t", "s1", 0, 1, CommandKind::Action);
        assert_eq!(a, command_id("t", "s1", 0, 1, CommandKind::Action));
        assert_ne!(a, command_id("t", "s1", 0, 2, CommandKind::Action));
        assert_ne!(a, command_id("t", "s1", 0, 1, CommandKind::Compensation));
        assert_ne!(a, command_id("t", "s2", 0, 1, CommandKind::Action));
    }
}
