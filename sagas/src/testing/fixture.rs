//! `SagaFixture`: given / when / expect for one saga type, with injected replies and a manual
//! clock, in the spirit of Axon's `SagaTestFixture`. Its checks panic with what differed.

use std::time::Duration;

use serde_json::Value;

use crate::clock::ManualClock;
use crate::coordinator::{Coordinator, CoordinatorConfig, ReplyDisposition};
use crate::definition::SagaDefinition;
use crate::instance::{SagaInstance, SagaState};
use crate::message::{CommandEnvelope, CommandKind, Reply, ReplyOutcome};
use crate::store::{MemorySagaStore, SagaStore};
use crate::testing::RecordingTransport;

/// One thing that happens to the saga under test.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FixtureInput {
    /// The saga instance starts with this data.
    Start {
        /// Its id.
        saga_id: String,
        /// Its data.
        data: Value,
    },
    /// The participant answers the last command sent for a step (action or compensation).
    Answer {
        /// The step's name.
        step: String,
        /// Whether the answer is to the action or to the compensation.
        kind: CommandKind,
        /// The answer.
        outcome: ReplyOutcome,
    },
    /// A reply exactly as given (for duplicates, forged or unknown replies).
    Reply(Reply),
    /// The clock moves forward; the deadlines that passed fire.
    TimeElapses(Duration),
}

impl FixtureInput {
    /// The saga `saga_id` starts with `data`.
    pub fn start(saga_id: impl Into<String>, data: Value) -> Self {
        FixtureInput::Start {
            saga_id: saga_id.into(),
            data,
        }
    }

    /// `step`'s action succeeded.
    pub fn success(step: impl Into<String>) -> Self {
        Self::answer(step, CommandKind::Action, ReplyOutcome::success())
    }

    /// `step`'s action succeeded, with data to merge into the saga's.
    pub fn success_with(step: impl Into<String>, data: Value) -> Self {
        Self::answer(step, CommandKind::Action, ReplyOutcome::Success { data })
    }

    /// `step`'s action failed for `reason`.
    pub fn failure(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::answer(step, CommandKind::Action, ReplyOutcome::failure(reason))
    }

    /// `step`'s compensation succeeded.
    pub fn compensated(step: impl Into<String>) -> Self {
        Self::answer(step, CommandKind::Compensation, ReplyOutcome::success())
    }

    /// `step`'s compensation failed for `reason`.
    pub fn compensation_failed(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::answer(
            step,
            CommandKind::Compensation,
            ReplyOutcome::failure(reason),
        )
    }

    /// The clock moves forward by `by`.
    pub fn time_elapses(by: Duration) -> Self {
        FixtureInput::TimeElapses(by)
    }

    fn answer(step: impl Into<String>, kind: CommandKind, outcome: ReplyOutcome) -> Self {
        FixtureInput::Answer {
            step: step.into(),
            kind,
            outcome,
        }
    }
}

/// Drives one saga type with an in-memory store, a recording transport and a manual clock.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_sagas::testing::{FixtureInput as I, SagaFixture};
/// use keel_sagas::{CommandSpec, SagaDefinition, SagaState, Step};
///
/// let saga = SagaDefinition::new("order")
///     .step(Step::new("reserve", CommandSpec::new("inventory", "Reserve", |d| d.clone()))
///         .compensate_with(CommandSpec::new("inventory", "Release", |d| d.clone())))
///     .step(Step::new("pay", CommandSpec::new("payment", "Capture", |d| d.clone())));
///
/// SagaFixture::new(saga)
///     .given(vec![I::start("o-1", serde_json::json!({})), I::success("reserve")]).await
///     .when(I::failure("pay", "card declined")).await
///     .expect_commands(&[("inventory", "Release")])
///     .expect_state(SagaState::Compensating).await;
/// # });
/// ```
#[derive(Debug)]
pub struct SagaFixture {
    coordinator: Coordinator<MemorySagaStore, RecordingTransport>,
    transport: RecordingTransport,
    clock: ManualClock,
    saga_type: String,
    saga_id: Option<String>,
    seen: usize,
    last_disposition: Option<ReplyDisposition>,
}

impl SagaFixture {
    /// A fixture for `definition` (panics if it is invalid).
    pub fn new(definition: SagaDefinition) -> Self {
        Self::with_config(definition, CoordinatorConfig::default())
    }

    /// A fixture whose coordinator uses `config`.
    pub fn with_config(definition: SagaDefinition, config: CoordinatorConfig) -> Self {
        let transport = RecordingTransport::new();
        let clock = ManualClock::new();
        let saga_type = definition.saga_type().to_owned();
        let coordinator = Coordinator::new(MemorySagaStore::new(), transport.clone())
            .with_clock(clock.clone())
            .with_config(config)
            .register(definition)
            .expect("a valid saga definition");
        Self {
            coordinator,
            transport,
            clock,
            saga_type,
            saga_id: None,
            seen: 0,
            last_disposition: None,
        }
    }

    /// The coordinator under test.
    pub fn coordinator(&self) -> &Coordinator<MemorySagaStore, RecordingTransport> {
        &self.coordinator
    }

    /// Applies `inputs` as history: the commands they cause are not checked by
    /// [`SagaFixture::expect_commands`].
    pub async fn given(&mut self, inputs: Vec<FixtureInput>) -> &mut Self {
        for input in inputs {
            self.apply(input).await;
        }
        self.seen = self.transport.sent().len();
        self
    }

    /// Applies `input`; the commands it causes are what the `expect_*` checks look at.
    pub async fn when(&mut self, input: FixtureInput) -> &mut Self {
        self.seen = self.transport.sent().len();
        self.apply(input).await;
        self
    }

    /// Moves the clock by `by` and fires the deadlines that passed (same as
    /// `when(FixtureInput::TimeElapses(by))`).
    pub async fn advance_time(&mut self, by: Duration) -> &mut Self {
        self.when(FixtureInput::TimeElapses(by)).await
    }

    /// The commands sent by the last `when`.
    pub fn dispatched(&self) -> Vec<CommandEnvelope> {
        self.transport
            .sent()
            .split_off(self.seen.min(self.transport.sent().len()))
    }

    /// The last command sent for `step` of `kind` (panics if there is none).
    pub fn last_command(&self, step: &str, kind: CommandKind) -> CommandEnvelope {
        self.transport
            .sent()
            .into_iter()
            .rev()
            .find(|c| c.step_name == step && c.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} command was sent for step `{step}`"))
    }

    /// Checks the last `when` sent exactly these `(participant, command type)` pairs, in order.
    pub fn expect_commands(&mut self, expected: &[(&str, &str)]) -> &mut Self {
        let actual: Vec<(String, String)> = self
            .dispatched()
            .into_iter()
            .map(|c| (c.participant, c.command_type))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(actual, expected, "commands sent (participant, type)");
        self
    }

    /// Checks the last `when` sent nothing.
    pub fn expect_no_commands(&mut self) -> &mut Self {
        self.expect_commands(&[])
    }

    /// Checks what became of the last injected reply.
    pub fn expect_disposition(&mut self, expected: ReplyDisposition) -> &mut Self {
        assert_eq!(self.last_disposition, Some(expected), "reply disposition");
        self
    }

    /// Checks the state of the saga started last.
    pub async fn expect_state(&mut self, expected: SagaState) -> &mut Self {
        assert_eq!(self.instance().await.state, expected, "saga state");
        self
    }

    /// The saga started last, as stored.
    pub async fn instance(&self) -> SagaInstance {
        let saga_id = self.saga_id.as_deref().expect("a saga was started");
        self.coordinator
            .store()
            .load(&self.saga_type, saga_id)
            .await
            .expect("the memory store answers")
            .expect("the saga is stored")
    }

    async fn apply(&mut self, input: FixtureInput) {
        match input {
            FixtureInput::Start { saga_id, data } => {
                self.coordinator
                    .start(&self.saga_type, &saga_id, data)
                    .await
                    .expect("the saga starts");
                self.saga_id = Some(saga_id);
            }
            FixtureInput::Answer {
                step,
                kind,
                outcome,
            } => {
                let command = self.last_command(&step, kind);
                self.inject(command.reply(outcome)).await;
            }
            FixtureInput::Reply(reply) => self.inject(reply).await,
            FixtureInput::TimeElapses(by) => {
                self.clock.advance(by);
                self.coordinator.fire_due().await.expect("deadlines fire");
            }
        }
    }

    async fn inject(&mut self, reply: Reply) {
        self.last_disposition = Some(
            self.coordinator
                .handle_reply(reply)
                .await
                .expect("the reply is handled"),
        );
    }
}
