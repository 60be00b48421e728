//! [`ReadModel`]: a projection declared on its document type, usually with
//! `#[derive(Projection)]`, and [`Declared`], the [`Projection`] that runs it.

use std::marker::PhantomData;

use keel_core::DomainEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::projection::{DocChange, Envelope, Projection};
use crate::sinks::elasticsearch::ElasticsearchSinkConfig;
use crate::sinks::redis::RedisSinkConfig;

/// A read-model document that declares its own projection: its name, the events it reads, the
/// field holding its key, its handlers and its sinks. Implemented by `#[derive(Projection)]`;
/// run it with [`Declared`].
pub trait ReadModel: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The events it reads.
    type Event: DomainEvent;
    /// The projection's name (its checkpoint key is `projection:<NAME>`).
    const NAME: &'static str;
    /// The event type names it handles.
    const EVENTS: &'static [&'static str];
    /// Stripped from the front of the stream id to make the document key
    /// (`#[projection(stream_prefix = "order-")]`: stream `order-42` is document `42`). Empty by
    /// default: the key is the stream id.
    const STREAM_PREFIX: &'static str = "";

    /// The change an event makes (dispatched to the handler declared for its type).
    fn apply(event: &Envelope<'_, Self::Event>, doc: Option<Self>) -> DocChange<Self>;

    /// Writes the document key (the stream id without [`ReadModel::STREAM_PREFIX`]) into the
    /// key field.
    fn set_key(&mut self, key: &str);

    /// The Elasticsearch sink it declares (index and mapping), on the node at `url`.
    fn elasticsearch(url: &str) -> Option<ElasticsearchSinkConfig> {
        let _ = url;
        None
    }

    /// The Redis sink it declares (prefix, TTL, format), on the server at `url`.
    fn redis(url: &str) -> Option<RedisSinkConfig> {
        let _ = url;
        None
    }
}

/// The [`Projection`] of a [`ReadModel`]: key = stream id (without the model's
/// [`ReadModel::STREAM_PREFIX`]), written into the key field of every upserted document.
pub struct Declared<M>(PhantomData<fn() -> M>);

impl<M> Declared<M> {
    /// The projection of `M`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for Declared<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> std::fmt::Debug for Declared<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Declared")
    }
}

impl<M: ReadModel> Projection for Declared<M> {
    type Event = M::Event;
    type Doc = M;

    fn name(&self) -> &str {
        M::NAME
    }

    fn event_types(&self) -> Vec<&'static str> {
        M::EVENTS.to_vec()
    }

    fn key(&self, event: &Envelope<'_, M::Event>) -> String {
        let stream = event.recorded.stream_id.as_str();
        stream
            .strip_prefix(M::STREAM_PREFIX)
            .unwrap_or(stream)
            .to_owned()
    }

    fn apply(&self, event: &Envelope<'_, M::Event>, doc: Option<M>) -> DocChange<M> {
        match M::apply(event, doc) {
            DocChange::Upsert(mut doc) => {
                doc.set_key(&self.key(event));
                DocChange::Upsert(doc)
            }
            other => other,
        }
    }
}
