//! What a choreography is: its participants' steps, each with the event it reacts to, the
//! events it emits on success and on failure, and its compensation.

use std::collections::{BTreeMap, HashSet};

use crate::{Error, Result};

use super::participant::Choreographed;

/// How a step's compensation is triggered and what it emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compensation {
    /// The event types that trigger it: a step's failure, or another compensation.
    pub on: Vec<String>,
    /// The event type it emits once the step is undone.
    pub emits: String,
}

impl Compensation {
    /// A compensation that reacts to `on` and emits `emits`.
    pub fn new(on: impl IntoIterator<Item = impl Into<String>>, emits: impl Into<String>) -> Self {
        Self {
            on: on.into_iter().map(Into::into).collect(),
            emits: emits.into(),
        }
    }
}

/// One step of a choreography: a participant's reaction to an event.
///
/// A step without `on` is a start: its event comes from outside the choreography's reactions
/// (a translator, a user's command) and opens an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoreographyStep {
    /// The participant that takes it.
    pub participant: String,
    /// Its name, unique within the choreography.
    pub name: String,
    /// The event types it reacts to (empty for a start).
    pub on: Vec<String>,
    /// The event type that says it succeeded.
    pub emits: String,
    /// The event type that says it failed, if it can fail.
    pub fails: Option<String>,
    /// How it is undone once the instance fails, if it needs undoing.
    pub compensation: Option<Compensation>,
}

impl ChoreographyStep {
    /// Step `name` of `participant`, which emits `emits` when it succeeds.
    pub fn new(
        participant: impl Into<String>,
        name: impl Into<String>,
        emits: impl Into<String>,
    ) -> Self {
        Self {
            participant: participant.into(),
            name: name.into(),
            on: Vec::new(),
            emits: emits.into(),
            fails: None,
            compensation: None,
        }
    }

    /// The event types it reacts to.
    #[must_use]
    pub fn on(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.on = types.into_iter().map(Into::into).collect();
        self
    }

    /// The event type that says it failed.
    #[must_use]
    pub fn fails(mut self, event_type: impl Into<String>) -> Self {
        self.fails = Some(event_type.into());
        self
    }

    /// Its compensation.
    #[must_use]
    pub fn compensate(mut self, compensation: Compensation) -> Self {
        self.compensation = Some(compensation);
        self
    }

    /// Whether its event comes from outside the choreography's reactions.
    pub fn is_start(&self) -> bool {
        self.on.is_empty()
    }
}

/// What an event type means in a choreography.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Step `i` succeeded.
    Success(usize),
    /// Step `i` failed.
    Failure(usize),
    /// Step `i` was undone.
    Compensation(usize),
}

/// A choreographed process: the steps of all its participants.
///
/// Usually assembled from participants declared with `#[derive(Choreography)]`:
///
/// ```
/// use keel_sagas::choreography::{Choreography, ChoreographyStep, Compensation};
///
/// let order = Choreography::new("order")
///     .step(ChoreographyStep::new("orders", "place", "OrderPlaced"))
///     .step(
///         ChoreographyStep::new("inventory", "reserve", "InventoryReserved")
///             .on(["OrderPlaced"])
///             .compensate(Compensation::new(["PaymentFailed"], "InventoryReleased")),
///     )
///     .step(
///         ChoreographyStep::new("payment", "pay", "PaymentCaptured")
///             .on(["InventoryReserved"])
///             .fails("PaymentFailed"),
///     )
///     .validate()?;
/// assert!(order.involves("InventoryReleased"));
/// # Ok::<(), keel_sagas::Error>(())
/// ```
///
/// With derived participants: `Choreography::new("order").with::<Inventory>().with::<Payment>()`.
#[derive(Debug, Clone, Default)]
pub struct Choreography {
    pub(crate) name: String,
    pub(crate) steps: Vec<ChoreographyStep>,
    /// (participant, the choreography it declares) of each added participant type.
    members: Vec<(String, String)>,
    roles: BTreeMap<String, Role>,
}

impl Choreography {
    /// A choreography named `name`, with no steps yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Adds a step.
    #[must_use]
    pub fn step(mut self, step: ChoreographyStep) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds every step of participant type `P` (what its `#[derive(Choreography)]` declared).
    #[must_use]
    pub fn with<P: Choreographed>(mut self) -> Self {
        self.members
            .push((P::PARTICIPANT.to_owned(), P::CHOREOGRAPHY.to_owned()));
        self.steps.extend(P::steps());
        self
    }

    /// The choreography's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its steps, in the order they were added.
    pub fn steps(&self) -> &[ChoreographyStep] {
        &self.steps
    }

    /// Whether `event_type` is one of the events its steps emit.
    pub fn involves(&self, event_type: &str) -> bool {
        self.role(event_type).is_some()
    }

    /// What `event_type` means (known after [`validate`](Self::validate)).
    pub(crate) fn role(&self, event_type: &str) -> Option<Role> {
        self.roles.get(event_type).copied()
    }

    /// Whether step `i` ends the happy path: no step reacts to its success.
    pub(crate) fn is_final(&self, i: usize) -> bool {
        let emits = &self.steps[i].emits;
        !self.steps.iter().any(|s| s.on.contains(emits))
    }

    /// Checks the choreography and indexes its events. Refuses: no steps, no start, a
    /// participant type of another choreography, step names used twice, an event type with
    /// two meanings, a step reacting to its own event or to something no step emits on success,
    /// a compensation reacting to something that is neither a failure nor a compensation.
    pub fn validate(mut self) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidChoreography {
            choreography: self.name.clone(),
            reason,
        };
        if let Some((participant, other)) = self.members.iter().find(|(_, c)| *c != self.name) {
            return Err(invalid(format!(
                "participant `{participant}` is declared for choreography `{other}`"
            )));
        }
        if self.steps.is_empty() {
            return Err(invalid("it has no steps".into()));
        }
        if !self.steps.iter().any(ChoreographyStep::is_start) {
            return Err(invalid(
                "no step starts it: one step needs no `on` (its event comes from outside)".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut roles = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            if !names.insert(step.name.as_str()) {
                return Err(invalid(format!("step `{}` is declared twice", step.name)));
            }
            let emitted = std::iter::once((&step.emits, Role::Success(i)))
                .chain(step.fails.iter().map(|f| (f, Role::Failure(i))))
                .chain(
                    step.compensation
                        .iter()
                        .map(|c| (&c.emits, Role::Compensation(i))),
                );
            for (event_type, role) in emitted {
                if event_type.trim().is_empty() {
                    return Err(invalid(format!(
                        "step `{}` names an empty event type",
                        step.name
                    )));
                }
                if let Some(before) = roles.insert(event_type.clone(), role) {
                    return Err(invalid(format!(
                        "`{event_type}` is emitted by {} and by {}",
                        self.describe(before),
                        self.describe(role)
                    )));
                }
            }
        }
        for step in &self.steps {
            if step.on.contains(&step.emits) {
                return Err(invalid(format!(
                    "step `{}` reacts to `{}`, the event it emits itself",
                    step.name, step.emits
                )));
            }
            for on in &step.on {
                if !matches!(roles.get(on), Some(Role::Success(_))) {
                    return Err(invalid(format!(
                        "step `{}` reacts to `{on}`, which no step emits on success",
                        step.name
                    )));
                }
            }
            let Some(compensation) = &step.compensation else {
                continue;
            };
            if compensation.on.is_empty() {
                return Err(invalid(format!(
                    "the compensation of step `{}` reacts to nothing",
                    step.name
                )));
            }
            for on in &compensation.on {
                if !matches!(
                    roles.get(on),
                    Some(Role::Failure(_) | Role::Compensation(_))
                ) {
                    return Err(invalid(format!(
                        "the compensation of step `{}` reacts to `{on}`, which is neither a step's \
                         failure nor a compensation",
                        step.name
                    )));
                }
            }
        }
        self.roles = roles;
        Ok(self)
    }

    fn describe(&self, role: Role) -> String {
        let (i, what) = match role {
            Role::Success(i) => (i, "the success of"),
            Role::Failure(i) => (i, "the failure of"),
            Role::Compensation(i) => (i, "the compensation of"),
        };
        format!("{what} step `{}`", self.steps[i].name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Choreography {
        Choreography::new("order")
            .step(
                ChoreographyStep::new("orders", "place", "OrderPlaced")
                    .compensate(Compensation::new(["PaymentFailed"], "OrderCancelled")),
            )
            .step(
                ChoreographyStep::new("payment", "pay", "PaymentCaptured")
                    .on(["OrderPlaced"])
                    .fails("PaymentFailed"),
            )
    }

    fn reason(c: Choreography) -> String {
        match c.validate() {
            Err(Error::InvalidChoreography { reason, .. }) => reason,
            other => panic!("expected an invalid choreography, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_choreography_indexes_its_events() {
        let c = order().validate().unwrap();
        assert_eq!(c.role("OrderPlaced"), Some(Role::Success(0)));
        assert_eq!(c.role("PaymentFailed"), Some(Role::Failure(1)));
        assert_eq!(c.role("OrderCancelled"), Some(Role::Compensation(0)));
        assert_eq!(c.role("Unrelated"), None);
        assert!(!c.is_final(0));
        assert!(c.is_final(1));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(reason(Choreography::new("x")), "it has no steps");
        assert!(reason(order().step(ChoreographyStep::new("p", "pay", "Other"))).contains("twice"));
        assert_eq!(
            reason(
                order()
                    .step(ChoreographyStep::new("p", "again", "PaymentFailed").on(["OrderPlaced"]))
            ),
            "`PaymentFailed` is emitted by the failure of step `pay` and by the success of step `again`"
        );
        assert_eq!(
            reason(
                order().step(ChoreographyStep::new("p", "ship", "Shipped").on(["PaymentCapturd"]))
            ),
            "step `ship` reacts to `PaymentCapturd`, which no step emits on success"
        );
        assert!(
            reason(
                order().step(
                    ChoreographyStep::new("p", "ship", "Shipped")
                        .on(["PaymentCaptured"])
                        .compensate(Compensation::new(["OrderPlaced"], "Unshipped"))
                )
            )
            .contains("neither a step's failure nor a compensation")
        );
        let loops = Choreography::new("x")
            .step(ChoreographyStep::new("p", "a", "A"))
            .step(ChoreographyStep::new("p", "b", "B").on(["A", "B"]));
        assert_eq!(
            reason(loops),
            "step `b` reacts to `B`, the event it emits itself"
        );
        let no_start = Choreography::new("x")
            .step(ChoreographyStep::new("p", "a", "A").on(["B"]))
            .step(ChoreographyStep::new("p", "b", "B").on(["A"]));
        assert!(reason(no_start).starts_with("no step starts it"));
    }
}
