//! A saga definition: its type name and ordered steps, each with an action, a compensation, a
//! timeout and a retry policy.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::{Error, Result};

/// Builds a command's payload from the saga's current data.
pub type PayloadFn = Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// A command a step sends: the participant it goes to, its type, and how to build its payload.
#[derive(Clone)]
pub struct CommandSpec {
    /// The participant (service) the command is addressed to.
    pub participant: String,
    /// The command's type name, e.g. `ReserveInventory`.
    pub command_type: String,
    /// Builds the payload from the saga data.
    pub payload: PayloadFn,
}

impl CommandSpec {
    /// A command to `participant` of type `command_type`, whose payload is built by `payload`.
    pub fn new(
        participant: impl Into<String>,
        command_type: impl Into<String>,
        payload: impl Fn(&Value) -> Value + Send + Sync + 'static,
    ) -> Self {
        Self {
            participant: participant.into(),
            command_type: command_type.into(),
            payload: Arc::new(payload),
        }
    }
}

impl fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec")
            .field("participant", &self.participant)
            .field("command_type", &self.command_type)
            .finish_non_exhaustive()
    }
}

/// How often a command is tried and how long to wait between tries.
///
/// The delay before try `n + 1` is `initial_backoff * multiplier^(n-1)`, capped at
/// `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of a step's action before it counts as failed (at least 1).
    pub max_attempts: u32,
    /// The delay after the first failed try.
    pub initial_backoff: Duration,
    /// The factor the delay grows by per try.
    pub multiplier: u32,
    /// The longest delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three tries, 1 s then 2 s apart, never more than 1 min.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2,
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// `max_attempts` tries with a constant `backoff` between them.
    pub fn fixed(max_attempts: u32, backoff: Duration) -> Self {
        Self {
            max_attempts,
            initial_backoff: backoff,
            multiplier: 1,
            max_backoff: backoff,
        }
    }

    /// The delay after failed try `attempt` (from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1)
            .saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// One step of a saga.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's name, unique within its saga (used in spans, logs and the fixture).
    pub name: String,
    /// The command that does the step's work.
    pub action: CommandSpec,
    /// The command that undoes it, if there is anything to undo.
    pub compensation: Option<CommandSpec>,
    /// How long to wait for a reply to one try.
    pub timeout: Duration,
    /// How often to try the action (and the delays between compensation tries).
    pub retry: RetryPolicy,
}

impl Step {
    /// A step named `name` whose action is `action`, with no compensation, a 30 s timeout and
    /// the default retry policy.
    pub fn new(name: impl Into<String>, action: CommandSpec) -> Self {
        Self {
            name: name.into(),
            action,
            compensation: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }

    /// Sets the compensation.
    pub fn compensate_with(mut self, compensation: CommandSpec) -> Self {
        self.compensation = Some(compensation);
        self
    }

    /// Sets the reply timeout of one try.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A saga type: its name and its ordered steps.
///
/// ```
/// use std::time::Duration;
/// use keel_sagas::{CommandSpec, RetryPolicy, SagaDefinition, Step};
///
/// let saga = SagaDefinition::new("order-fulfilment")
///     .step(
///         Step::new("reserve", CommandSpec::new("inventory", "Reserve", |d| d.clone()))
///             .compensate_with(CommandSpec::new("inventory", "Release", |d| d.clone()))
///             .timeout(Duration::from_secs(5))
///             .retry(RetryPolicy::fixed(3, Duration::from_secs(1))),
///     )
///     .step(Step::new("pay", CommandSpec::new("payment", "Capture", |d| d.clone())))
///     .validate()?;
/// assert_eq!(saga.steps().len(), 2);
/// # Ok::<(), keel_sagas::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SagaDefinition {
    saga_type: String,
    steps: Vec<Step>,
}

impl SagaDefinition {
    /// An empty saga of type `saga_type`.
    pub fn new(saga_type: impl Into<String>) -> Self {
        Self {
            saga_type: saga_type.into(),
            steps: Vec::new(),
        }
    }

    /// Appends a step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Checks the definition: at least one step, unique step names, at least one try per step.
    pub fn validate(self) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidDefinition {
            saga_type: self.saga_type.clone(),
            reason,
        };
        if self.saga_type.is_empty() {
            return Err(invalid("the saga type is empty".into()));
        }
        if self.steps.is_empty() {
            return Err(invalid("a saga needs at least one step".into()));
        }
        let mut names = HashSet::new();
        for step in &self.steps {
            if !names.insert(step.name.as_str()) {
                return Err(invalid(format!("step `{}` is declared twice", step.name)));
            }
            if step.retry.max_attempts == 0 {
                return Err(invalid(format!("step `{}` has max_attempts 0", step.name)));
            }
        }
        Ok(self)
    }

    /// The saga's type name.
    pub fn saga_type(&self) -> &str {
        &self.saga_type
    }

    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2,
            max_backoff: Duration::from_secs(3),
        };
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(2), Duration::from_secs(2));
        assert_eq!(policy.backoff(3), Duration::from_secs(3));
    }

    #[test]
    fn duplicate_step_names_are_refused() {
        let cmd = || CommandSpec::new("p", "C", Value::clone);
        let err = SagaDefinition::new("s")
            .step(Step::new("a", cmd()))
            .step(Step::new("a", cmd()))
            .validate()
            .expect_err("duplicate");
        assert!(err.to_string().contains("declared twice"), "{err}");
    }
}
