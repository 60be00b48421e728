//! What a choreography's events mean.

/// The event types of one choreographed process.
///
/// ```
/// use keel_sagas::choreography::Choreography;
///
/// let order = Choreography::new("order")
///     .steps(["OrderPlaced", "InventoryReserved", "PaymentCaptured", "OrderConfirmed"])
///     .failures(["PaymentFailed", "InventoryFailed"])
///     .compensations(["InventoryReleased"]);
/// assert!(order.involves("PaymentFailed"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Choreography {
    pub(crate) name: String,
    pub(crate) steps: Vec<String>,
    pub(crate) failures: Vec<String>,
    pub(crate) compensations: Vec<String>,
}

impl Choreography {
    /// A choreography named `name`, with no events yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The happy path, in order: the first starts an instance, the last completes it.
    pub fn steps(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.steps = types.into_iter().map(Into::into).collect();
        self
    }

    /// Event types that mean a step failed: the instance is then compensating.
    pub fn failures(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.failures = types.into_iter().map(Into::into).collect();
        self
    }

    /// Event types that undo a step. Once a failed instance has seen one compensation per
    /// completed step that has one, it is compensated.
    pub fn compensations(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.compensations = types.into_iter().map(Into::into).collect();
        self
    }

    /// The choreography's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `event_type` is one of its events.
    pub fn involves(&self, event_type: &str) -> bool {
        [&self.steps, &self.failures, &self.compensations]
            .iter()
            .any(|types| types.iter().any(|t| t == event_type))
    }
}
