//! Batches overlapped: the next one planned while this one is written, several in flight, and
//! documents whose streams run across many batches folded from every event exactly once.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use keel_core::Position;
use keel_core::store::{CheckpointStore, EventStore, MemoryStore};
use keel_projections::sinks::MemorySink;
use keel_projections::{
    Change, DocChange, Envelope, Projection, ProjectionRunner, RunnerConfig, Sink, Stored,
    WriteReport,
};
use serde_json::json;

const STREAMS: i64 = 12;
const EVENTS: i64 = 25;

/// The sum of a stream's order totals: every event adds to the document, so an event applied
/// twice or skipped shows.
struct Sums;

impl Projection for Sums {
    type Event = ShopEvent;
    type Doc = i64;
    fn name(&self) -> &str {
        "sums"
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["OrderPlaced"]
    }
    fn apply(&self, e: &Envelope<'_, ShopEvent>, doc: Option<i64>) -> DocChange<i64> {
        match &e.event {
            ShopEvent::OrderPlaced { total_cents, .. } => {
                DocChange::Upsert(doc.unwrap_or(0) + total_cents)
            }
            _ => DocChange::Unchanged,
        }
    }
}

/// Streams `s-0` … written round robin, one event per append, so each stream's events are
/// spread over the whole history: event `v` of a stream adds `v`.
async fn interleaved(store: &MemoryStore) {
    for v in 1..=EVENTS {
        for s in 0..STREAMS {
            append(store, &format!("s-{s}"), &[placed("ada", v)]).await;
        }
    }
}

fn config(batch_size: usize, max_in_flight_requests: usize) -> RunnerConfig {
    RunnerConfig {
        batch_size,
        max_in_flight_requests,
        ..RunnerConfig::default()
    }
}

fn assert_sums(sink: &MemorySink) {
    for s in 0..STREAMS {
        let stored = sink.stored(&format!("s-{s}")).expect("document");
        assert_eq!(stored.doc, Some(json!(EVENTS * (EVENTS + 1) / 2)), "s-{s}");
        assert_eq!(
            stored.version,
            u64::try_from(EVENTS).expect("a count"),
            "s-{s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_running_across_many_batches_are_folded_once_with_batches_in_flight() {
    let store = MemoryStore::new();
    interleaved(&store).await;
    // Batch sizes that split streams anywhere, from one batch in flight to several, and pages
    // of the store that are not a whole number of batches (or smaller than one).
    for (batch_size, in_flight, read_size) in [
        (7, 1, 5_000),
        (7, 2, 5_000),
        (5, 4, 12),
        (13, 3, 1),
        (1, 2, 3),
    ] {
        let sink = MemorySink::new();
        let runner = ProjectionRunner::new(store.clone(), Sums)
            .with_sink(sink.clone())
            .with_config(RunnerConfig {
                read_size,
                ..config(batch_size, in_flight)
            })
            .unwrap();
        store
            .save_checkpoint(runner.checkpoint_name(), Position::START)
            .await
            .unwrap();
        let events = usize::try_from(STREAMS * EVENTS).unwrap();
        assert_eq!(runner.catch_up().await.unwrap(), events);
        assert_sums(&sink);
        assert_eq!(runner.lag().await.unwrap().events_behind, 0);
    }
}

/// A sink that already holds everything sees every write come back stale, so the documents
/// the next batches need are loaded from each sink instead of taken from the planned changes;
/// the sink that missed everything still gets every document whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_ahead_and_a_sink_behind_each_end_with_the_whole_model() {
    let store = MemoryStore::new();
    interleaved(&store).await;
    let ahead = MemorySink::new();
    ProjectionRunner::new(store.clone(), Sums)
        .with_sink(ahead.clone())
        .with_config(config(9, 2))
        .unwrap()
        .catch_up()
        .await
        .unwrap();
    let before = ahead.documents();

    let behind = MemorySink::new();
    let runner = ProjectionRunner::new(store.clone(), Sums)
        .with_sink(ahead.clone())
        .with_sink(behind.clone())
        .with_config(config(9, 2))
        .unwrap();
    store
        .save_checkpoint(runner.checkpoint_name(), Position::START)
        .await
        .unwrap();
    runner.catch_up().await.unwrap();
    assert_eq!(ahead.documents(), before, "the sink ahead is unchanged");
    assert_sums(&behind);
}

/// What a [`Watched`] sink saw of its writes.
#[derive(Default)]
struct Seen {
    /// Keys of the writes under way.
    in_flight: HashSet<String>,
    /// Writes under way now, and the most at once so far.
    writes: usize,
    most_writes: usize,
    /// Keys written while another write of the same key was under way.
    overlaps: Vec<String>,
}

/// A [`MemorySink`] whose writes take a while, watched: how many are under way at once, and
/// whether two of them ever change the same document.
#[derive(Clone)]
struct Watched {
    inner: MemorySink,
    seen: Arc<Mutex<Seen>>,
    /// A write changing this document takes 200 ms, then fails (as a sink that is down).
    fails_on: Option<&'static str>,
}

impl Watched {
    fn new() -> Self {
        Self {
            inner: MemorySink::new(),
            seen: Arc::default(),
            fails_on: None,
        }
    }
}

#[async_trait]
impl Sink for Watched {
    fn name(&self) -> &'static str {
        "watched"
    }

    async fn load(&self, keys: &[String]) -> keel_projections::Result<HashMap<String, Stored>> {
        self.inner.load(keys).await
    }

    async fn write(&self, changes: &[Change]) -> keel_projections::Result<WriteReport> {
        {
            let mut seen = self.seen.lock().expect("not poisoned");
            for change in changes {
                if !seen.in_flight.insert(change.key.clone()) {
                    seen.overlaps.push(change.key.clone());
                }
            }
            seen.writes += 1;
            seen.most_writes = seen.most_writes.max(seen.writes);
        }
        let fails = changes
            .iter()
            .any(|c| Some(c.key.as_str()) == self.fails_on);
        let report = if fails {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err(keel_projections::Error::Unavailable {
                sink: "watched",
                reason: "down for this test".into(),
            })
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.inner.write(changes).await
        };
        let mut seen = self.seen.lock().expect("not poisoned");
        for change in changes {
            seen.in_flight.remove(&change.key);
        }
        seen.writes -= 1;
        report
    }
}

/// Streams `t-0` … of `per_stream` events each, appended one stream after the other (so most
/// batches change documents no batch near them changes), then a round of one more event for
/// every stream (documents changed again, batches apart).
async fn grouped(store: &MemoryStore, streams: i64, per_stream: i64) {
    for s in 0..streams {
        let events: Vec<ShopEvent> = (1..=per_stream).map(|v| placed("ada", v)).collect();
        append(store, &format!("t-{s}"), &events).await;
    }
    for s in 0..streams {
        append(store, &format!("t-{s}"), &[placed("ada", per_stream + 1)]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_never_change_the_same_document_and_do_overlap() {
    const GROUPED: i64 = 60;
    const PER_STREAM: i64 = 3;
    for in_flight in [1, 2, 4] {
        for interleave in [false, true] {
            let store = MemoryStore::new();
            let (streams, per_stream) = if interleave {
                interleaved(&store).await;
                (STREAMS, EVENTS)
            } else {
                grouped(&store, GROUPED, PER_STREAM).await;
                (GROUPED, PER_STREAM + 1)
            };
            let sink = Watched::new();
            let runner = ProjectionRunner::new(store.clone(), Sums)
                .with_sink(sink.clone())
                .with_config(config(6, in_flight))
                .unwrap();
            runner.catch_up().await.unwrap();
            let seen = sink.seen.lock().unwrap();
            let case = format!("{in_flight} in flight, interleaved: {interleave}");
            assert!(seen.overlaps.is_empty(), "{case}: {:?}", seen.overlaps);
            assert!(
                seen.most_writes <= in_flight,
                "{case}: {}",
                seen.most_writes
            );
            if !interleave {
                // Batches of different documents are written at the same time, up to the limit.
                assert_eq!(seen.most_writes, in_flight, "{case}");
            }
            let prefix = if interleave { "s" } else { "t" };
            for s in 0..streams {
                let stored = sink
                    .inner
                    .stored(&format!("{prefix}-{s}"))
                    .expect("document");
                let total = per_stream * (per_stream + 1) / 2;
                assert_eq!(stored.doc, Some(json!(total)), "{case}: {prefix}-{s}");
            }
        }
    }
}

/// A batch that fails for good while later batches were written beside it: the checkpoint stays
/// after the last batch acknowledged in order, not after the later ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_stops_before_a_failed_batch_even_when_later_ones_were_written() {
    let store = MemoryStore::new();
    // Batches of 6 events: batch 0 holds t-0 and t-1, batch 1 t-2 and t-3, batch 2 t-4 …
    grouped(&store, 12, 3).await;
    let sink = Watched {
        fails_on: Some("t-4"),
        ..Watched::new()
    };
    let runner = ProjectionRunner::new(store.clone(), Sums)
        .with_sink(sink.clone())
        .with_config(RunnerConfig {
            max_retries: Some(0),
            ..config(6, 4)
        })
        .unwrap();
    let failed = runner.catch_up().await;
    assert!(
        matches!(
            failed,
            Err(keel_projections::Error::RetriesExhausted { .. })
        ),
        "{failed:?}"
    );
    // Batches 3 to 5 went in flight beside batch 2 and were written while it failed.
    for s in 6..12 {
        assert!(sink.inner.stored(&format!("t-{s}")).is_some(), "t-{s}");
    }
    assert!(sink.inner.stored("t-4").is_none());
    let end_of_batch_1 = store.read_all(Position::START, 12).await.unwrap();
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        end_of_batch_1.last().unwrap().position
    );
}
