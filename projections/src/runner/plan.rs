//! Turns a batch of events into at most one versioned change per document.

use std::collections::HashMap;

use keel_core::RecordedEvent;
use keel_core::event::Upcasters;

use crate::projection::{DocChange, Envelope, Projection};
use crate::sink::{Change, Op, Stored};
use crate::{Error, Result};

/// One document's state while a batch is applied.
struct Slot<D> {
    /// Version of the last change (stored or made in this batch).
    version: u64,
    /// The document, `None` when absent or deleted.
    doc: Option<D>,
    /// Whether this batch changed it.
    dirty: bool,
}

/// The handled events of a batch, decoded, with their document keys.
pub(crate) struct Decoded<'a, E> {
    /// Events in batch order, each with its key.
    pub(crate) events: Vec<(String, Envelope<'a, E>)>,
    /// Events that did not decode, with the decoder's reason.
    pub(crate) failed: Vec<(&'a RecordedEvent, String)>,
}

impl<'a, E> Decoded<'a, E> {
    /// The distinct keys, in first-seen order.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.events
            .iter()
            .filter(|(key, _)| seen.insert(key.as_str()))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The event that changed `key` to `version` in this batch.
    pub(crate) fn source(&self, key: &str, version: u64) -> Option<&'a RecordedEvent> {
        self.events
            .iter()
            .find(|(k, e)| k == key && e.recorded.stream_version == version)
            .map(|(_, e)| e.recorded)
    }

    /// The first event that did not decode, as the error that stops the projection.
    pub(crate) fn first_failure(&self, projection: &str) -> Option<Error> {
        self.failed.first().map(|(recorded, reason)| Error::Decode {
            projection: projection.to_owned(),
            event_type: recorded.event_type.clone(),
            stream_id: recorded.stream_id.clone(),
            position: recorded.position,
            reason: reason.clone(),
        })
    }
}

/// Decodes the events the projection handles and computes their keys; events that do not
/// decode are set apart with the reason.
pub(crate) fn decode<'a, P: Projection>(
    projection: &P,
    upcasters: &Upcasters,
    handled: &[&'static str],
    batch: &'a [RecordedEvent],
) -> Decoded<'a, P::Event> {
    let mut events = Vec::new();
    let mut failed = Vec::new();
    for recorded in batch {
        if !handled.contains(&recorded.event_type.as_str()) {
            continue;
        }
        match upcasters.decode::<P::Event>(recorded) {
            Ok(event) => {
                let envelope = Envelope { event, recorded };
                events.push((projection.key(&envelope), envelope));
            }
            Err(e) => failed.push((recorded, e.to_string())),
        }
    }
    Decoded { events, failed }
}

/// Applies the decoded events on top of the stored documents. An event whose stream version is
/// not above its document's version was applied before (a replay) and is skipped.
pub(crate) fn plan<P: Projection>(
    projection: &P,
    decoded: &Decoded<'_, P::Event>,
    stored: HashMap<String, Stored>,
) -> Result<Vec<Change>> {
    let mut slots: HashMap<String, Slot<P::Doc>> = HashMap::new();
    let mut order = Vec::new();
    for (key, envelope) in &decoded.events {
        if !slots.contains_key(key) {
            let slot = match stored.get(key) {
                Some(Stored { version, doc }) => Slot {
                    version: *version,
                    doc: doc
                        .clone()
                        .map(serde_json::from_value)
                        .transpose()
                        .map_err(|source| document_error(projection, key, source))?,
                    dirty: false,
                },
                None => Slot {
                    version: 0,
                    doc: None,
                    dirty: false,
                },
            };
            slots.insert(key.clone(), slot);
            order.push(key.clone());
        }
        let Some(slot) = slots.get_mut(key) else {
            continue;
        };
        let version = envelope.recorded.stream_version;
        if version <= slot.version {
            continue;
        }
        match projection.apply(envelope, slot.doc.clone()) {
            DocChange::Upsert(doc) => slot.doc = Some(doc),
            DocChange::Delete => slot.doc = None,
            DocChange::Unchanged => continue,
        }
        slot.version = version;
        slot.dirty = true;
    }
    let mut changes = Vec::new();
    for key in order {
        let Some(slot) = slots.remove(&key) else {
            continue;
        };
        if !slot.dirty {
            continue;
        }
        let op = match slot.doc {
            Some(doc) => Op::Upsert(
                serde_json::to_value(doc)
                    .map_err(|source| document_error(projection, &key, source))?,
            ),
            None => Op::Delete,
        };
        changes.push(Change {
            key,
            version: slot.version,
            op,
        });
    }
    Ok(changes)
}

fn document_error<P: Projection>(projection: &P, key: &str, source: serde_json::Error) -> Error {
    Error::Document {
        projection: projection.name().to_owned(),
        key: key.to_owned(),
        source,
    }
}
