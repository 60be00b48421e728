//! The conformance suite every event store backend passes.
//!
//! Each check is a public async function taking a fresh store; [`conformance_tests!`] turns
//! them into one `#[tokio::test]` each. Checks use unique stream ids and filter what they read,
//! so they also pass on a shared database where other tests write at the same time.
//!
//! [`conformance_tests!`]: crate::conformance_tests

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::Error;
use crate::event::{Metadata, NewEvent, SourcePosition, Upcasters};
use crate::repository::{Repository, SnapshotPolicy};
use crate::store::{ExpectedVersion, Position, SnapshotStore as _, Store, StreamQuery};
use crate::testing::CountingStore;

mod ledger;
mod pages;
pub use ledger::{Ledger, LedgerCommand, LedgerEvent};
pub use pages::pages_cover_read_all;

/// A stream id no other check or run uses ([`unique`](super::unique) with `-`).
pub fn unique_stream(prefix: &str) -> String {
    super::unique(prefix, '-')
}

/// How long a check waits for its own committed events to become readable.
pub const HELD_BACK_FOR_AT_MOST: Duration = Duration::from_secs(10);

/// Called when a read found none of a check's committed events yet: on PostgreSQL another
/// writer's open transaction (a concurrent check's) holds reads back below it until it ends
/// (ADR 0002), so wait a moment, failing naming `what` once `deadline` has passed.
pub async fn wait_out_held_back(deadline: tokio::time::Instant, what: std::fmt::Arguments<'_>) {
    assert!(
        tokio::time::Instant::now() < deadline,
        "{what}: still unreadable after {HELD_BACK_FOR_AT_MOST:?}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "Deposited".into(),
        schema_version: LedgerEvent::VERSION,
        payload: json!({ "amount": n, "currency": "EUR" }),
        metadata: Metadata::default(),
        occurred_at: Utc::now(),
    }
}

fn events(range: std::ops::RangeInclusive<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

/// Appended events come back from `read_stream` as appended: ids, versions from 1, payload,
/// metadata, times; `stream_version`, `contains_event` and `stored_event_ids` agree.
pub async fn append_and_read_back<S: Store>(store: S) {
    let stream = unique_stream("conf-append");
    let metadata = Metadata {
        correlation_id: Some(Uuid::new_v4()),
        causation_id: Some(Uuid::new_v4()),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        ..Metadata::default()
    };
    let sent: Vec<NewEvent> = events(1..=3)
        .into_iter()
        .map(|e| e.with_metadata(metadata.clone()))
        .collect();
    let outcome = store
        .append(&stream, ExpectedVersion::NoStream, sent.clone())
        .await
        .expect("append");
    assert_eq!(outcome.stream_version, 3);
    assert!(outcome.duplicates.is_empty());
    let read = store
        .read_stream(&stream, StreamQuery::all())
        .await
        .expect("read");
    assert_eq!(
        read, outcome.appended,
        "what append returned is what a read returns"
    );
    for (i, (r, s)) in read.iter().zip(&sent).enumerate() {
        assert_eq!(r.event_id, s.event_id);
        assert_eq!(r.stream_id, stream);
        assert_eq!(r.stream_version, i as u64 + 1);
        assert_eq!(
            (r.event_type.as_str(), r.schema_version),
            (s.event_type.as_str(), s.schema_version)
        );
        assert_eq!(r.payload, s.payload);
        assert_eq!(r.metadata, metadata);
        assert!(r.recorded_at >= s.occurred_at - chrono::Duration::seconds(5));
    }
    assert!(
        read.windows(2).all(|w| w[0].position < w[1].position),
        "positions increase"
    );
    assert_eq!(store.stream_version(&stream).await.expect("version"), 3);
    assert_eq!(
        store
            .stream_version(&unique_stream("none"))
            .await
            .expect("version"),
        0
    );
    assert!(
        store
            .contains_event(sent[1].event_id)
            .await
            .expect("contains")
    );
    assert!(
        !store
            .contains_event(Uuid::new_v4())
            .await
            .expect("contains")
    );
    let unknown = Uuid::new_v4();
    let mut stored = store
        .stored_event_ids(&[sent[2].event_id, unknown, sent[0].event_id])
        .await
        .expect("stored ids");
    stored.sort();
    let mut expected = vec![sent[0].event_id, sent[2].event_id];
    expected.sort();
    assert_eq!(stored, expected, "the stored ones of three ids");
    assert!(
        store
            .stored_event_ids(&[])
            .await
            .expect("stored ids")
            .is_empty()
    );
    // The head reaches the append once every older transaction of the server has ended (on
    // PostgreSQL another writer's may still run: ADR 0002), so wait for it, boundedly.
    let deadline = tokio::time::Instant::now() + HELD_BACK_FOR_AT_MOST;
    while store.head().await.expect("head") < read[2].position {
        let at = read[2].position;
        wait_out_held_back(deadline, format_args!("the head below the append at {at}")).await;
    }
}

/// A wrong expected version is a typed conflict naming the actual version, and writes nothing.
pub async fn expected_version_conflicts<S: Store>(store: S) {
    let stream = unique_stream("conf-conflict");
    store
        .append(&stream, ExpectedVersion::NoStream, events(1..=2))
        .await
        .expect("first append");
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(1),
        ExpectedVersion::Exact(3),
    ] {
        match store.append(&stream, expected, events(9..=9)).await {
            Err(Error::Conflict {
                stream_id,
                expected: e,
                actual,
            }) => {
                assert_eq!(
                    (stream_id.as_str(), e, actual),
                    (stream.as_str(), expected, 2)
                );
            }
            other => panic!("expected a conflict for {expected}, got {other:?}"),
        }
    }
    assert_eq!(store.stream_version(&stream).await.expect("version"), 2);
    store
        .append(&stream, ExpectedVersion::Exact(2), events(3..=3))
        .await
        .expect("exact");
    store
        .append(&stream, ExpectedVersion::Any, events(4..=4))
        .await
        .expect("any");
    assert_eq!(
        store
            .read_stream(&stream, StreamQuery::all())
            .await
            .expect("read")
            .len(),
        4
    );
}

/// Appending an event whose id is already stored is a no-op, whatever the expected version;
/// in a mixed batch only the new events are appended.
pub async fn duplicate_event_ids_are_no_ops<S: Store>(store: S) {
    let stream = unique_stream("conf-dup");
    let first = events(1..=2);
    store
        .append(&stream, ExpectedVersion::NoStream, first.clone())
        .await
        .expect("append");
    let again = store
        .append(&stream, ExpectedVersion::NoStream, first.clone())
        .await
        .expect("re-delivery");
    assert!(again.appended.is_empty());
    assert_eq!(again.duplicates, vec![first[0].event_id, first[1].event_id]);
    assert_eq!(again.stream_version, 2);
    // With any version, the stored ids are found all the same (no version check to fail first).
    let any = store
        .append(&stream, ExpectedVersion::Any, first.clone())
        .await
        .expect("re-delivery with any version");
    assert!(any.appended.is_empty());
    assert_eq!(any.duplicates, vec![first[0].event_id, first[1].event_id]);
    let mut mixed = vec![first[1].clone()];
    mixed.extend(events(3..=3));
    let outcome = store
        .append(&stream, ExpectedVersion::Exact(2), mixed)
        .await
        .expect("mixed");
    assert_eq!(outcome.appended.len(), 1);
    assert_eq!(outcome.duplicates, vec![first[1].event_id]);
    let mut mixed = events(4..=4);
    mixed.push(first[0].clone());
    let outcome = store
        .append(&stream, ExpectedVersion::Any, mixed)
        .await
        .expect("mixed, any version");
    assert_eq!(
        outcome
            .appended
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [4]
    );
    assert_eq!(outcome.duplicates, vec![first[0].event_id]);
    assert_eq!(outcome.stream_version, 4);
    let read = store
        .read_stream(&stream, StreamQuery::all())
        .await
        .expect("read");
    assert_eq!(
        read.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let ids: HashSet<_> = read.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 4, "no event stored twice");
    assert_eq!(store.stream_version(&stream).await.expect("version"), 4);
}

/// `read_stream` honours `from_version`, `limit` and `recorded_until`.
pub async fn stream_reads_honour_bounds<S: Store>(store: S) {
    let stream = unique_stream("conf-bounds");
    store
        .append(&stream, ExpectedVersion::NoStream, events(1..=3))
        .await
        .expect("append");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store
        .append(&stream, ExpectedVersion::Exact(3), events(4..=5))
        .await
        .expect("append");
    let versions =
        |v: Vec<crate::RecordedEvent>| v.iter().map(|e| e.stream_version).collect::<Vec<_>>();
    let from = store
        .read_stream(&stream, StreamQuery::from_version(2))
        .await
        .expect("from");
    assert_eq!(versions(from), [2, 3, 4, 5]);
    let limited = store
        .read_stream(&stream, StreamQuery::from_version(2).limit(2))
        .await
        .expect("limit");
    assert_eq!(versions(limited), [2, 3]);
    let until = store
        .read_stream(&stream, StreamQuery::all().recorded_until(cut))
        .await
        .expect("until");
    assert_eq!(versions(until), [1, 2, 3]);
    assert!(
        store
            .read_stream(&unique_stream("none"), StreamQuery::all())
            .await
            .expect("none")
            .is_empty()
    );
}

/// `read_all` returns events of several streams in the order they were appended, and reading
/// on from the last position returns the rest.
pub async fn global_order_across_streams<S: Store>(store: S) {
    let (a, b) = (unique_stream("conf-all-a"), unique_stream("conf-all-b"));
    let start = store.head().await.expect("head");
    let mut expected = Vec::new();
    for (stream, n) in [(&a, 1), (&b, 1), (&a, 2), (&b, 2), (&a, 3)] {
        let e = event(n);
        expected.push(e.event_id);
        store
            .append(stream, ExpectedVersion::Any, vec![e])
            .await
            .expect("append");
    }
    let ours = |events: Vec<crate::RecordedEvent>| -> Vec<crate::RecordedEvent> {
        events
            .into_iter()
            .filter(|e| e.stream_id == a || e.stream_id == b)
            .collect()
    };
    let mut seen = Vec::new();
    let mut after = start;
    let deadline = tokio::time::Instant::now() + HELD_BACK_FOR_AT_MOST;
    while seen.len() < expected.len() {
        let batch = store.read_all(after, 2).await.expect("read_all");
        if batch.is_empty() {
            let read = seen.len();
            wait_out_held_back(
                deadline,
                format_args!("read_all ended after {read} of our events"),
            )
            .await;
            continue;
        }
        assert!(
            batch.iter().all(|e| e.position > after),
            "read_all returned a position not after {after}"
        );
        after = batch.last().map(|e| e.position).unwrap_or(after);
        seen.extend(ours(batch));
    }
    assert_eq!(
        seen.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        expected
    );
}

/// Snapshots: the newest is returned, or the newest recorded at or before a time.
pub async fn snapshots_newest_and_as_of<S: Store>(store: S) {
    let stream = unique_stream("conf-snap");
    let t0 = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6) - chrono::Duration::minutes(10);
    let snap = |version: u64, minutes: i64| crate::store::Snapshot {
        stream_id: stream.clone(),
        aggregate_type: "ledger".into(),
        stream_version: version,
        schema_version: 1,
        last_recorded_at: t0 + chrono::Duration::minutes(minutes),
        state: json!({ "version": version }),
    };
    assert_eq!(
        store.load_snapshot(&stream, None).await.expect("load"),
        None
    );
    store.save_snapshot(snap(10, 1)).await.expect("save");
    store.save_snapshot(snap(20, 2)).await.expect("save");
    assert_eq!(
        store.load_snapshot(&stream, None).await.expect("load"),
        Some(snap(20, 2))
    );
    let at = t0 + chrono::Duration::seconds(90);
    assert_eq!(
        store.load_snapshot(&stream, Some(at)).await.expect("load"),
        Some(snap(10, 1))
    );
    assert_eq!(
        store.load_snapshot(&stream, Some(t0)).await.expect("load"),
        None
    );
}

/// Checkpoints: none until saved; the last save wins.
pub async fn checkpoints_round_trip<S: Store>(store: S) {
    let name = unique_stream("conf-checkpoint");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), None);
    store
        .save_checkpoint(&name, Position::new(7, 42))
        .await
        .expect("save");
    store
        .save_checkpoint(&name, Position::new(8, 43))
        .await
        .expect("save");
    assert_eq!(
        store.load_checkpoint(&name).await.expect("load"),
        Some(Position::new(8, 43))
    );
}

/// Every appended event gets an outbox entry, in append order, gone once marked published.
pub async fn outbox_follows_appends<S: Store>(store: S) {
    drain_outbox(&store).await;
    let stream = unique_stream("conf-outbox");
    let appended = store
        .append(&stream, ExpectedVersion::NoStream, events(1..=3))
        .await
        .expect("append")
        .appended;
    let ours = |entries: Vec<crate::store::OutboxEntry>| -> Vec<crate::store::OutboxEntry> {
        entries
            .into_iter()
            .filter(|e| e.event.stream_id == stream)
            .collect()
    };
    let pending = ours(store.pending(ALL_PENDING).await.expect("pending"));
    assert_eq!(
        pending.iter().map(|p| p.event.clone()).collect::<Vec<_>>(),
        appended
    );
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
    store.mark_published(&ids[..2]).await.expect("mark");
    let left = ours(store.pending(ALL_PENDING).await.expect("pending"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.event_id, appended[2].event_id);
    store.mark_published(&ids[2..]).await.expect("mark");
    assert!(ours(store.pending(ALL_PENDING).await.expect("pending")).is_empty());
}

/// Marks the pending outbox entries of the streams `ours` accepts published, leaving the rest.
pub async fn drain_outbox_where<S: Store>(store: &S, ours: impl Fn(&str) -> bool) {
    let ids: Vec<i64> = store
        .pending(ALL_PENDING)
        .await
        .expect("pending")
        .into_iter()
        .filter(|e| ours(&e.event.stream_id))
        .map(|e| e.id)
        .collect();
    for chunk in ids.chunks(10_000) {
        store.mark_published(chunk).await.expect("mark");
    }
}

/// Enough to list every entry a shared test database's outbox holds at once (other checks'
/// entries may sit ahead of a check's own).
const ALL_PENDING: usize = 10_000_000;

/// Marks every pending outbox entry published, so a shared test database's outbox does not
/// grow without bound and a check finds its own entries in the first page.
pub async fn drain_outbox<S: Store>(store: &S) {
    loop {
        let page = store.pending(10_000).await.expect("pending");
        if page.is_empty() {
            return;
        }
        let ids: Vec<i64> = page.iter().map(|p| p.id).collect();
        store.mark_published(&ids).await.expect("mark");
    }
}

/// Eight writers append concurrently while a live subscriber reads the global order: it sees
/// every event exactly once, positions strictly increase, and each stream's versions arrive in
/// order. `total` events are written in small batches to 64 streams.
pub async fn concurrent_writers_live_subscriber<S: Store + Clone>(store: S, total: usize) {
    const WRITERS: usize = 8;
    const BATCH: usize = 10;
    let run = Uuid::new_v4().simple().to_string();
    let start = store.head().await.expect("head");
    let per_writer = total / WRITERS;

    let subscriber = {
        let store = store.clone();
        let run = run.clone();
        tokio::spawn(async move {
            let mut after = start;
            let mut seen: HashSet<Uuid> = HashSet::new();
            let mut versions: HashMap<String, u64> = HashMap::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
            while seen.len() < per_writer * WRITERS {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "subscriber timed out at {}",
                    seen.len()
                );
                let batch = store.read_all(after, 5_000).await.expect("read_all");
                if batch.is_empty() {
                    store.wait_for_new(after, Duration::from_millis(50)).await;
                    continue;
                }
                for e in batch {
                    assert!(
                        e.position > after,
                        "position {} not after {after}",
                        e.position
                    );
                    after = e.position;
                    if !e.stream_id.starts_with(&run) {
                        continue;
                    }
                    assert!(seen.insert(e.event_id), "event {} seen twice", e.event_id);
                    let last = versions.entry(e.stream_id.clone()).or_insert(0);
                    assert_eq!(
                        e.stream_version,
                        *last + 1,
                        "stream {} out of order",
                        e.stream_id
                    );
                    *last = e.stream_version;
                }
            }
            seen.len()
        })
    };

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let run = run.clone();
        writers.push(tokio::spawn(async move {
            let mut written = 0;
            let mut i = 0u64;
            while written < per_writer {
                let stream = format!("{run}-s{}", (w * 8) + (i as usize % 8));
                let n = BATCH.min(per_writer - written);
                store
                    .append(&stream, ExpectedVersion::Any, events(1..=n as u64))
                    .await
                    .expect("append");
                written += n;
                i += 1;
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let seen = tokio::time::timeout(Duration::from_secs(600), subscriber)
        .await
        .expect("subscriber finished")
        .expect("subscriber");
    assert_eq!(seen, per_writer * WRITERS);
    // Only this run's entries: draining everything would publish another check's entries
    // under it (outbox_follows_appends runs beside this one on a shared database).
    drain_outbox_where(&store, |stream| stream.starts_with(&run)).await;
}

/// Loading reads the newest snapshot plus at most the events after it; without snapshots it
/// reads the whole stream. Counted from what the store returns.
pub async fn load_reads_snapshot_plus_tail<S: Store + Clone>(store: S) {
    let store = CountingStore::new(store);
    let stream = unique_stream("conf-load");
    let repo =
        Repository::<Ledger, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(10));
    for _ in 0..25 {
        repo.execute(&stream, LedgerCommand::Deposit(1), Metadata::default())
            .await
            .expect("execute");
    }
    store.reset();
    let loaded = repo.load(&stream).await.expect("load");
    assert_eq!((loaded.state.balance, loaded.version), (25, 25));
    assert_eq!(loaded.snapshot_version, Some(20));
    assert_eq!(store.snapshots_loaded(), 1);
    assert_eq!(
        store.events_read(),
        5,
        "the snapshot at 20 plus events 21..=25"
    );

    let plain = Repository::<Ledger, _>::new(store.clone());
    store.reset();
    let loaded = plain.load(&stream).await.expect("load");
    // The policy is per repository: a repository without snapshots still starts from one.
    assert_eq!(loaded.snapshot_version, Some(20));
    assert_eq!(store.events_read(), 5);
}

/// A snapshot of another schema version is ignored: the state is rebuilt by replay, then
/// snapshotted again at the current version.
pub async fn stale_snapshot_is_ignored_and_replaced<S: Store + Clone>(store: S) {
    let store = CountingStore::new(store);
    let stream = unique_stream("conf-stale");
    let repo =
        Repository::<Ledger, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(100));
    for _ in 0..5 {
        repo.execute(&stream, LedgerCommand::Deposit(2), Metadata::default())
            .await
            .expect("execute");
    }
    store
        .save_snapshot(crate::store::Snapshot {
            stream_id: stream.clone(),
            aggregate_type: "ledger".into(),
            stream_version: 5,
            schema_version: 0,
            last_recorded_at: Utc::now(),
            state: json!({ "an": "old shape" }),
        })
        .await
        .expect("save");
    store.reset();
    let loaded = repo.load(&stream).await.expect("load");
    assert_eq!((loaded.state.balance, loaded.snapshot_version), (10, None));
    assert_eq!(store.events_read(), 5, "rebuilt by replaying every event");
    let fresh = store
        .load_snapshot(&stream, None)
        .await
        .expect("load")
        .expect("re-snapshotted");
    assert_eq!(
        (fresh.schema_version, fresh.stream_version),
        (Ledger::SNAPSHOT, 5)
    );
    store.reset();
    assert_eq!(
        repo.load(&stream).await.expect("load").snapshot_version,
        Some(5)
    );
    assert_eq!(store.events_read(), 0);
}

/// `load_at(t)` folds the events recorded at or before `t`, starting from the newest snapshot
/// at or before `t`; `replay_from(t)` gives each later event with the state it produced.
pub async fn state_as_of_a_time_and_replay<S: Store + Clone>(store: S) {
    let store = CountingStore::new(store);
    let stream = unique_stream("conf-at");
    let repo = Repository::<Ledger, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(4));
    for _ in 0..6 {
        repo.execute(&stream, LedgerCommand::Deposit(1), Metadata::default())
            .await
            .expect("execute");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for amount in [10, 20, 30] {
        repo.execute(&stream, LedgerCommand::Deposit(amount), Metadata::default())
            .await
            .expect("execute");
    }
    store.reset();
    let at = repo.load_at(&stream, t).await.expect("load_at");
    assert_eq!((at.state.balance, at.version), (6, 6));
    assert_eq!(
        at.snapshot_version,
        Some(4),
        "started from the snapshot at 4, not the one at 8"
    );
    assert_eq!(store.events_read(), 2);
    let steps = repo.replay_from(&stream, t).await.expect("replay");
    let balances: Vec<i64> = steps.iter().map(|(_, s)| s.balance).collect();
    assert_eq!(balances, [16, 36, 66]);
    assert_eq!(
        steps
            .iter()
            .map(|(e, _)| e.stream_version)
            .collect::<Vec<_>>(),
        [7, 8, 9]
    );
    let before_all = repo
        .load_at(&stream, t - chrono::Duration::hours(1))
        .await
        .expect("load_at");
    assert_eq!((before_all.state.balance, before_all.version), (0, 0));
}

/// A v1 event stored and read back as the current v3 through a chain of two upcasters; a
/// hole in the chain is an error naming type, version, stream and position.
pub async fn upcasters_lift_old_events<S: Store + Clone>(store: S) {
    let stream = unique_stream("conf-upcast");
    let v1 = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "Deposited".into(),
        schema_version: 1,
        payload: json!({ "amt": 7 }),
        metadata: Metadata::default(),
        occurred_at: Utc::now(),
    };
    store
        .append(&stream, ExpectedVersion::NoStream, vec![v1])
        .await
        .expect("append");
    let chain = Upcasters::new()
        .with_fn("Deposited", 1, |mut p| {
            Ok(json!({ "amount": p["amt"].take() }))
        })
        .with_fn("Deposited", 2, |mut p| {
            p["currency"] = json!("EUR");
            Ok(p)
        });
    let repo = Repository::<Ledger, _>::new(store.clone()).with_upcasters(chain);
    assert_eq!(repo.load(&stream).await.expect("load").state.balance, 7);

    let broken = Repository::<Ledger, _>::new(store.clone())
        .with_upcasters(Upcasters::new().with_fn("Deposited", 1, Ok));
    match broken.load(&stream).await {
        Err(Error::MissingUpcaster {
            event_type,
            schema_version,
            target_version,
            stream_id,
            stream_version,
            ..
        }) => {
            assert_eq!(
                (
                    event_type.as_str(),
                    schema_version,
                    target_version,
                    stream_id.as_str(),
                    stream_version
                ),
                ("Deposited", 2, 3, stream.as_str(), 1)
            );
        }
        other => panic!("expected MissingUpcaster, got {other:?}"),
    }
}

/// An unknown event type and a corrupt payload are errors naming type, version, stream and
/// position; never a panic.
pub async fn bad_events_are_named_errors<S: Store + Clone>(store: S) {
    let stream = unique_stream("conf-bad");
    let unknown = NewEvent {
        event_type: "Teleported".into(),
        ..event(1)
    };
    store
        .append(&stream, ExpectedVersion::NoStream, vec![unknown])
        .await
        .expect("append");
    let repo = Repository::<Ledger, _>::new(store.clone());
    let err = repo.load(&stream).await.expect_err("unknown type");
    assert!(
        matches!(&err, Error::UnknownEventType { event_type, stream_id, stream_version: 1, .. }
        if event_type == "Teleported" && *stream_id == stream),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Teleported") && err.to_string().contains(&stream),
        "{err}"
    );

    let stream = unique_stream("conf-corrupt");
    let corrupt = NewEvent {
        payload: json!({ "amount": "not a number" }),
        ..event(1)
    };
    store
        .append(&stream, ExpectedVersion::NoStream, vec![corrupt])
        .await
        .expect("append");
    let err = repo.load(&stream).await.expect_err("corrupt payload");
    assert!(
        matches!(&err, Error::CorruptPayload { event_type, schema_version: 3, .. } if event_type == "Deposited"),
        "{err:?}"
    );
}

/// A command whose metadata carries a CDC source position gets deterministic event ids, and
/// re-executing it (re-delivery) appends nothing.
pub async fn cdc_redelivery_appends_once<S: Store + Clone>(store: S) {
    let stream = unique_stream("conf-cdc");
    let repo = Repository::<Ledger, _>::new(store.clone());
    let metadata = Metadata {
        source: Some(SourcePosition {
            name: "orders".into(),
            gtid: Some(format!("0-1-{}", Uuid::new_v4().as_u128() % 1_000_000)),
            file: "binlog.000001".into(),
            pos: 4711,
            row: 0,
            snapshot_key: None,
        }),
        ..Metadata::default()
    };
    let first = repo
        .execute(&stream, LedgerCommand::Deposit(5), metadata.clone())
        .await
        .expect("first");
    assert!(!first.duplicate);
    let again = repo
        .execute(&stream, LedgerCommand::Deposit(5), metadata)
        .await
        .expect("re-delivery");
    assert!(again.duplicate && again.events.is_empty());
    assert_eq!(repo.load(&stream).await.expect("load").state.balance, 5);
}

/// Generates one `#[tokio::test]` per conformance check for a backend. `$make` is an async
/// expression giving a fresh store; `$total` the event count of the concurrency check.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr, $total:expr) => {
        $crate::conformance_tests!(@each $make, $total;
            append_and_read_back, expected_version_conflicts, duplicate_event_ids_are_no_ops,
            stream_reads_honour_bounds, global_order_across_streams, pages_cover_read_all,
            snapshots_newest_and_as_of,
            checkpoints_round_trip, outbox_follows_appends, load_reads_snapshot_plus_tail,
            stale_snapshot_is_ignored_and_replaced, state_as_of_a_time_and_replay,
            upcasters_lift_old_events, bad_events_are_named_errors, cdc_redelivery_appends_once);
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_writers_live_subscriber() {
            $crate::testing::conformance::concurrent_writers_live_subscriber($make.await, $total).await;
        }
    };
    (@each $make:expr, $total:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::testing::conformance::$check($make.await).await;
            }
        )*
    };
}
