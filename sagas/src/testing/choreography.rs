//! `ChoreographyFixture`: given / when / expect for one choreography participant, on an
//! in-memory event store. Its checks panic with what differed.

use std::collections::HashSet;

use chrono::Utc;
use keel_core::store::{ExpectedVersion, MemoryStore, Position};
use keel_core::{DomainEvent, EventStore, Metadata, NewEvent, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::choreography::{Choreographed, Reactor};

/// An event the fixture appends: a stream, a type and a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureEvent {
    /// The stream it goes to.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// Its payload.
    pub payload: Value,
}

impl FixtureEvent {
    /// An event of `event_type` with `payload` on `stream_id`.
    pub fn new(
        stream_id: impl Into<String>,
        event_type: impl Into<String>,
        payload: Value,
    ) -> Self {
        Self {
            stream_id: stream_id.into(),
            event_type: event_type.into(),
            payload,
        }
    }

    /// A domain event on `stream_id`, with its type name and payload (panics when it does
    /// not serialize).
    pub fn domain(stream_id: impl Into<String>, event: &impl DomainEvent) -> Self {
        let payload = match event.to_payload() {
            Ok(payload) => payload,
            Err(error) => panic!("`{}` does not serialize: {error}", event.event_type()),
        };
        Self {
            stream_id: stream_id.into(),
            event_type: event.event_type().to_owned(),
            payload,
        }
    }
}

/// Given / when / expect for participant `P`, in the spirit of Axon's saga test fixture.
///
/// `given` appends the instance's history to an in-memory store, without reactions; `when`
/// appends one more event and lets the participant react to it, as its `Reactor` would; the
/// `expect_*` checks look at what was appended then. Every event carries the fixture's
/// correlation id.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use keel_core::subscription::HandlerError;
/// use keel_sagas::choreography::{Choreographed, ChoreographyStep, Outcome, ReactionFuture, ReactionKind, Trigger};
/// use keel_sagas::testing::{ChoreographyFixture, FixtureEvent as E};
/// use serde_json::json;
///
/// struct Shipping;
/// impl Choreographed for Shipping {
///     const CHOREOGRAPHY: &'static str = "order";
///     const PARTICIPANT: &'static str = "shipping";
///     fn steps() -> Vec<ChoreographyStep> {
///         vec![ChoreographyStep::new("shipping", "ship", "Shipped").on(["PaymentCaptured"])]
///     }
///     fn react<'a>(&'a self, _: &'a str, _: ReactionKind, t: &'a Trigger<'_>) -> ReactionFuture<'a> {
///         let stream = format!("shipment-{}", t.stream_id());
///         Box::pin(async move { Ok::<_, HandlerError>(Outcome::success(stream, json!({}))) })
///     }
/// }
///
/// let mut f = ChoreographyFixture::new(|_| Shipping);
/// f.given(vec![E::new("order-1", "OrderPlaced", json!({}))]).await
///     .when(E::new("order-1", "PaymentCaptured", json!({}))).await
///     .expect_emitted(&["Shipped"]);
/// # });
/// ```
pub struct ChoreographyFixture<P> {
    store: MemoryStore,
    reactor: Reactor<P, MemoryStore>,
    correlation_id: Uuid,
    declared: HashSet<String>,
    trigger: Option<RecordedEvent>,
    appended: Vec<RecordedEvent>,
    error: Option<String>,
}

impl<P: Choreographed> std::fmt::Debug for ChoreographyFixture<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChoreographyFixture")
            .field("participant", &P::PARTICIPANT)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

impl<P: Choreographed> ChoreographyFixture<P> {
    /// A fixture whose participant `build` makes on the fixture's store.
    pub fn new(build: impl FnOnce(MemoryStore) -> P) -> Self {
        let store = MemoryStore::new();
        let declared = P::steps()
            .into_iter()
            .flat_map(|s| {
                std::iter::once(s.emits)
                    .chain(s.fails)
                    .chain(s.compensation.map(|c| c.emits))
            })
            .collect();
        Self {
            reactor: Reactor::new(build(store.clone()), store.clone()),
            store,
            correlation_id: Uuid::new_v4(),
            declared,
            trigger: None,
            appended: Vec::new(),
            error: None,
        }
    }

    /// The store the participant works on.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The correlation id every event of the fixture carries.
    pub fn correlation_id(&self) -> Uuid {
        self.correlation_id
    }

    /// Appends `events` as the instance's history; the participant does not react to them.
    pub async fn given(&mut self, events: Vec<FixtureEvent>) -> &mut Self {
        for event in events {
            self.append(event).await;
        }
        self
    }

    /// Appends `event` and lets the participant react to it.
    pub async fn when(&mut self, event: FixtureEvent) -> &mut Self {
        let trigger = self.append(event).await;
        let after = trigger.position;
        self.error = self
            .reactor
            .react(&trigger)
            .await
            .err()
            .map(|e| e.to_string());
        self.appended = self.read_after(after).await;
        self.trigger = Some(trigger);
        self
    }

    /// Checks that the participant's declared events appended by the last `when` are of these
    /// types, in this order, each with the fixture's correlation id and the trigger as cause.
    pub fn expect_emitted(&mut self, types: &[&str]) -> &mut Self {
        self.expect_no_error();
        let trigger = self.trigger.as_ref().map(|t| t.event_id);
        let emitted: Vec<&RecordedEvent> = self.emitted().collect();
        let got: Vec<&str> = emitted.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(got, types, "the events emitted by `{}`", P::PARTICIPANT);
        for event in emitted {
            assert_eq!(
                event.metadata.correlation_id,
                Some(self.correlation_id),
                "`{}` does not carry the trigger's correlation id",
                event.event_type
            );
            assert_eq!(
                event.metadata.causation_id, trigger,
                "`{}` does not name the trigger as its cause",
                event.event_type
            );
        }
        self
    }

    /// Checks that the last `when` emitted none of the participant's declared events.
    pub fn expect_nothing_emitted(&mut self) -> &mut Self {
        self.expect_emitted(&[])
    }

    /// Checks that the last `when` failed with an error containing `text`.
    pub fn expect_error(&mut self, text: &str) -> &mut Self {
        match &self.error {
            Some(error) => assert!(
                error.contains(text),
                "the error `{error}` does not contain `{text}`"
            ),
            None => panic!("expected an error containing `{text}`, the reaction succeeded"),
        }
        self
    }

    /// Every event appended by the last `when`: the declared ones and side effects.
    pub fn appended(&self) -> &[RecordedEvent] {
        &self.appended
    }

    fn emitted(&self) -> impl Iterator<Item = &RecordedEvent> {
        self.appended
            .iter()
            .filter(|e| self.declared.contains(&e.event_type))
    }

    fn expect_no_error(&self) {
        if let Some(error) = &self.error {
            panic!("the reaction failed: {error}");
        }
    }

    async fn append(&self, event: FixtureEvent) -> RecordedEvent {
        let new = NewEvent {
            event_id: Uuid::new_v4(),
            event_type: event.event_type,
            schema_version: 1,
            payload: event.payload,
            metadata: Metadata {
                correlation_id: Some(self.correlation_id),
                ..Metadata::default()
            },
            occurred_at: Utc::now(),
        };
        let outcome = self
            .store
            .append(&event.stream_id, ExpectedVersion::Any, vec![new])
            .await;
        match outcome.map(|o| o.appended.into_iter().next()) {
            Ok(Some(recorded)) => recorded,
            other => panic!(
                "the fixture could not append to `{}`: {other:?}",
                event.stream_id
            ),
        }
    }

    async fn read_after(&self, after: Position) -> Vec<RecordedEvent> {
        match self.store.read_all(after, usize::MAX).await {
            Ok(events) => events,
            Err(error) => panic!("the fixture could not read its store: {error}"),
        }
    }
}
