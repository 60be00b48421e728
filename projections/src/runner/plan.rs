//! Turns a batch of events into at most one versioned change per document, and tells which
//! documents must be loaded first.

use std::collections::{HashMap, HashSet};

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

    /// The distinct keys whose stored documents the plan needs, in first-seen order: those with
    /// an event of a stream that is not [`fresh`](fresh_streams) in this batch. A key fed only
    /// by fresh streams has nothing stored before this batch (a document is fed by one stream),
    /// so loading it cannot change the plan: if a sink holds it already (a replay), its version
    /// guard ignores the write.
    pub(crate) fn keys_to_load(&self, fresh: &HashSet<&str>) -> Vec<String> {
        let mut needed: HashSet<&str> = HashSet::new();
        for (key, envelope) in &self.events {
            if !fresh.contains(envelope.recorded.stream_id.as_str()) {
                needed.insert(key.as_str());
            }
        }
        self.keys()
            .into_iter()
            .filter(|key| needed.contains(key.as_str()))
            .collect()
    }

    /// Each key with the stream version of its first event in the batch.
    pub(crate) fn first_versions(&self) -> HashMap<&str, u64> {
        let mut first: HashMap<&str, u64> = HashMap::new();
        for (key, envelope) in &self.events {
            let version = envelope.recorded.stream_version;
            first
                .entry(key.as_str())
                .and_modify(|v| *v = (*v).min(version))
                .or_insert(version);
        }
        first
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

/// The streams whose whole history so far is in `batch`: their events in it start at stream
/// version 1 and follow each other without a gap (whether the projection handles them or not).
/// Any other order (a source that re-delivers an older event after a newer one) makes a stream
/// not fresh, and its documents are loaded as usual.
pub(crate) fn fresh_streams(batch: &[RecordedEvent]) -> HashSet<&str> {
    let mut last: HashMap<&str, Option<u64>> = HashMap::new();
    for event in batch {
        let version = event.stream_version;
        last.entry(event.stream_id.as_str())
            .and_modify(|seen| {
                *seen = seen
                    .filter(|v| v.checked_add(1) == Some(version))
                    .map(|_| version);
            })
            .or_insert((version == 1).then_some(version));
    }
    last.into_iter()
        .filter_map(|(stream, seen)| seen.map(|_| stream))
        .collect()
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

/// Gives a sink that lost a document the copy another sink holds, so that the document's next
/// change is planned from the whole document, not from nothing.
///
/// A sink lost a key when another sink holds it at a higher version that is still below the
/// key's first event in this batch: everything up to that version was checkpointed, so every
/// sink acknowledged it, and the sink holding less dropped it since (a Redis TTL ran out, an
/// eviction, a sink added later). A sink that holds less than another one holding events of
/// this batch missed them in a crash between two sinks' writes: it keeps its own copy and
/// catches up from it.
pub(crate) fn restore_lost<E>(decoded: &Decoded<'_, E>, stored: &mut [HashMap<String, Stored>]) {
    if stored.len() < 2 {
        return;
    }
    for (key, first) in decoded.first_versions() {
        let held = |sink: &HashMap<String, Stored>| sink.get(key).map_or(0, |s| s.version);
        // The most recent copy from before this batch.
        let Some(best) = stored
            .iter()
            .filter(|sink| held(sink) < first)
            .max_by_key(|sink| held(sink))
            .and_then(|sink| sink.get(key))
            .cloned()
        else {
            continue;
        };
        for sink in stored.iter_mut().filter(|sink| held(sink) < best.version) {
            sink.insert(key.to_owned(), best.clone());
        }
    }
}

fn document_error<P: Projection>(projection: &P, key: &str, source: serde_json::Error) -> Error {
    Error::Document {
        projection: projection.name().to_owned(),
        key: key.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use keel_core::{Metadata, Position};
    use uuid::Uuid;

    use super::*;

    fn event(stream: &str, version: u64) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::new_v4(),
            stream_id: stream.into(),
            stream_version: version,
            position: Position::new(1, version),
            occurred_at: chrono::Utc::now(),
            recorded_at: chrono::Utc::now(),
            event_type: "Added".into(),
            schema_version: 1,
            payload: serde_json::json!({"by": 1}),
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn a_stream_is_fresh_when_its_events_start_at_one_without_gaps() {
        let batch = [
            event("a", 1),
            event("b", 3),
            event("a", 2),
            event("c", 1),
            event("d", 1),
            event("b", 4),
            event("c", 3),
            event("d", 1),
        ];
        let fresh = fresh_streams(&batch);
        let mut fresh: Vec<&str> = fresh.into_iter().collect();
        fresh.sort_unstable();
        // b starts later, c has a gap, d repeats a version.
        assert_eq!(fresh, ["a"]);
    }
}
