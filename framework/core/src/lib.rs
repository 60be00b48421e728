//! Keel's event-sourced core: events, aggregates, the event store, snapshots, replay,
//! subscriptions, the outbox relay and the tracing glue every other Keel crate stands on.
//!
//! | module | what it holds |
//! |---|---|
//! | [`event`] | the [`DomainEvent`](event::DomainEvent) trait, envelopes, metadata, upcasters |
//! | [`aggregate`] | the [`Aggregate`](aggregate::Aggregate) trait: rules in `handle`, facts in `apply` |
//! | [`repository`] | load (from the newest snapshot), execute, append; state at a time; replay |
//! | [`store`] | the store traits and the in-memory, SQLite and PostgreSQL backends |
//! | [`subscription`] | checkpointed subscriptions over the global order |
//! | `kafka` | the outbox relay and the consumer helper with dead letters (feature `kafka`) |
//! | [`telemetry`] | OTLP setup and W3C trace context in metadata and headers |
//! | [`testing`] | `AggregateFixture` and the store conformance suite |
//!
//! Features: `sqlite` (default), `postgres`, `kafka`.

pub mod aggregate;
#[doc(hidden)]
pub mod doc;
mod error;
pub mod event;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod repository;
pub mod store;
pub mod subscription;
pub mod telemetry;
pub mod testing;

pub use aggregate::Aggregate;
pub use error::{Error, Result};
pub use event::{DomainEvent, Metadata, NewEvent, RecordedEvent};
pub use repository::{CommandError, Repository, SnapshotPolicy};
pub use store::{EventStore, ExpectedVersion, Position};

/// Paths the derive macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;

    /// Splits serde's externally tagged form `{"Variant": payload}` (or `"Variant"` for a unit
    /// variant) into the payload stored without the type.
    pub fn untag(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) if map.len() == 1 => map
                .into_iter()
                .next()
                .map_or(serde_json::Value::Null, |(_, v)| v),
            _ => serde_json::Value::Null,
        }
    }

    /// Rebuilds serde's externally tagged form from a variant name and a stored payload.
    pub fn tag(variant: &str, unit: bool, payload: serde_json::Value) -> serde_json::Value {
        if unit {
            serde_json::Value::String(variant.to_owned())
        } else {
            let mut map = serde_json::Map::with_capacity(1);
            map.insert(variant.to_owned(), payload);
            serde_json::Value::Object(map)
        }
    }

    /// Deserializes `T` from serde's externally tagged form of a variant name and a stored
    /// payload, as `serde_json::from_value(tag(variant, unit, payload))` does, reading the
    /// payload in place instead of copying it into a new tagged value first.
    pub fn from_tagged<T: serde::de::DeserializeOwned>(
        variant: &str,
        unit: bool,
        payload: &serde_json::Value,
    ) -> Result<T, serde_json::Error> {
        use serde::de::IntoDeserializer as _;
        use serde::de::value::{MapAccessDeserializer, MapDeserializer};
        if unit {
            T::deserialize(variant.into_deserializer())
        } else {
            T::deserialize(MapAccessDeserializer::new(MapDeserializer::new(
                std::iter::once((variant, payload)),
            )))
        }
    }
}
