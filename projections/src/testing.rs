//! [`ProjectionFixture`]: given events, then expect documents, without a store or a server.

use std::collections::HashMap;

use chrono::Utc;
use keel_core::event::Upcasters;
use keel_core::{DomainEvent, Metadata, Position, RecordedEvent};
use serde::Serialize;
use serde_json::Value;

use crate::projection::Projection;
use crate::runner::plan;
use crate::sink::{Op, Stored};

/// Given/then tests for a projection, run through the same planning as the runner (decode,
/// key, version guard, apply) against an in-memory document map.
///
/// ```
/// use keel_core::doc::CounterEvent;
/// use keel_projections::testing::ProjectionFixture;
/// use keel_projections::{DocChange, Envelope, Projection};
///
/// struct Totals;
/// impl Projection for Totals {
///     type Event = CounterEvent;
///     type Doc = i64;
///     fn name(&self) -> &str { "totals" }
///     fn apply(&self, e: &Envelope<'_, CounterEvent>, doc: Option<i64>) -> DocChange<i64> {
///         let CounterEvent::Added { by } = e.event;
///         DocChange::Upsert(doc.unwrap_or(0) + by)
///     }
/// }
///
/// ProjectionFixture::new(Totals)
///     .given(vec![CounterEvent::Added { by: 2 }, CounterEvent::Added { by: 3 }])
///     .then_document(ProjectionFixture::<Totals>::STREAM, 5)
///     .then_absent("other");
/// ```
pub struct ProjectionFixture<P> {
    projection: P,
    docs: HashMap<String, Stored>,
    versions: HashMap<String, u64>,
    seq: u64,
}

impl<P: Projection> ProjectionFixture<P> {
    /// The stream [`given`](Self::given) appends to.
    pub const STREAM: &'static str = "fixture-1";

    /// A fixture with no events yet.
    pub fn new(projection: P) -> Self {
        Self {
            projection,
            docs: HashMap::new(),
            versions: HashMap::new(),
            seq: 0,
        }
    }

    /// Projects `events` as the next events of the stream [`STREAM`](Self::STREAM).
    #[must_use]
    pub fn given(self, events: impl IntoIterator<Item = P::Event>) -> Self {
        self.given_stream(Self::STREAM, events)
    }

    /// Projects `events` as the next events of `stream_id`.
    ///
    /// # Panics
    ///
    /// When an event does not serialize or decode, or the projection's document does not
    /// (de)serialize: the fixture is for tests.
    #[must_use]
    pub fn given_stream(
        mut self,
        stream_id: &str,
        events: impl IntoIterator<Item = P::Event>,
    ) -> Self {
        let recorded: Vec<RecordedEvent> = events
            .into_iter()
            .map(|event| self.record(stream_id, &event))
            .collect();
        let handled = self.projection.event_types();
        let upcasters = Upcasters::new();
        let decoded = plan::decode(&self.projection, &upcasters, &handled, &recorded);
        if let Some(e) = decoded.first_failure(self.projection.name()) {
            panic!("{e}");
        }
        let stored = decoded
            .keys()
            .into_iter()
            .filter_map(|k| self.docs.get(&k).map(|s| (k, s.clone())))
            .collect();
        let changes =
            plan::plan(&self.projection, &decoded, stored).unwrap_or_else(|e| panic!("{e}"));
        for change in changes {
            let doc = match change.op {
                Op::Upsert(doc) => Some(doc),
                Op::Delete => None,
            };
            self.docs.insert(
                change.key,
                Stored {
                    version: change.version,
                    doc,
                },
            );
        }
        self
    }

    /// Asserts that the document under `key` equals `expected` (compared as JSON).
    ///
    /// # Panics
    ///
    /// When it differs or is absent.
    pub fn then_document(&self, key: &str, expected: impl Serialize) -> &Self {
        let expected = serde_json::to_value(expected).unwrap_or_else(|e| panic!("{e}"));
        let actual = self.document(key);
        assert_eq!(
            actual.as_ref(),
            Some(&expected),
            "document `{key}` of projection `{}`",
            self.projection.name()
        );
        self
    }

    /// Asserts that there is no document under `key`.
    ///
    /// # Panics
    ///
    /// When there is one.
    pub fn then_absent(&self, key: &str) -> &Self {
        if let Some(doc) = self.document(key) {
            panic!(
                "document `{key}` of projection `{}` should be absent, found {doc}",
                self.projection.name()
            );
        }
        self
    }

    /// The document under `key`, if any.
    pub fn document(&self, key: &str) -> Option<Value> {
        self.docs.get(key).and_then(|s| s.doc.clone())
    }

    fn record(&mut self, stream_id: &str, event: &P::Event) -> RecordedEvent {
        let version = self.versions.entry(stream_id.to_owned()).or_insert(0);
        *version += 1;
        self.seq += 1;
        let now = Utc::now();
        RecordedEvent {
            event_id: uuid_like(self.seq),
            stream_id: stream_id.to_owned(),
            stream_version: *version,
            position: Position::new(0, self.seq),
            occurred_at: now,
            recorded_at: now,
            event_type: event.event_type().to_owned(),
            schema_version: event.event_version(),
            payload: event.to_payload().unwrap_or_else(|e| panic!("{e}")),
            metadata: Metadata::default(),
        }
    }
}

/// A deterministic id per fixture event (the planner never looks at it).
fn uuid_like(seq: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(u128::from(seq))
}
