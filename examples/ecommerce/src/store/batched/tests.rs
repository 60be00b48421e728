//! `Batched` on the in-memory store: what one batch reads and appends, and how it answers.

use keel::doc::{Counter, CounterCommand};
use keel::event::SourcePosition;
use keel::store::{EventStore, MemoryStore, StreamQuery};
use keel::testing::CountingStore;
use keel::{Metadata, Repository, SnapshotPolicy};

use super::{Batched, Refused};

type Store = CountingStore<MemoryStore>;

fn cdc(pos: u64) -> Metadata {
    Metadata {
        source: Some(SourcePosition {
            name: "orders".into(),
            gtid: None,
            file: "binlog.000001".into(),
            pos,
            row: 0,
            snapshot_key: None,
        }),
        ..Metadata::default()
    }
}

async fn stream_of(store: &Store, events: u64) {
    let repo = Repository::<Counter, _>::new(store.clone());
    for _ in 0..events {
        repo.execute("c-1", CounterCommand::Add(1), Metadata::default())
            .await
            .expect("seeded");
    }
    store.reset();
}

#[tokio::test]
async fn commands_queued_together_are_decided_on_one_load() {
    let store = CountingStore::new(MemoryStore::new());
    stream_of(&store, 5).await;
    let batched = Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never());
    let (a, b, c) = tokio::join!(
        batched.execute("c-1", CounterCommand::Add(2), Metadata::default()),
        batched.execute("c-1", CounterCommand::Add(3), Metadata::default()),
        batched.execute("c-1", CounterCommand::Add(4), Metadata::default()),
    );
    assert_eq!(
        store.events_read(),
        5,
        "the stream was read once for three commands"
    );
    let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    assert_eq!((a.events.len(), b.events.len(), c.events.len()), (1, 1, 1));
    assert_eq!(a.events[0].stream_version, 6);
    assert_eq!(c.events[0].stream_version, 8);
    assert_eq!(c.state.value, 5 + 2 + 3 + 4);
}

#[tokio::test]
async fn a_refused_command_does_not_hold_back_the_others_of_its_batch() {
    let store = CountingStore::new(MemoryStore::new());
    let batched = Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never());
    let (refused, added) = tokio::join!(
        batched.execute("c-1", CounterCommand::Add(0), Metadata::default()),
        batched.execute("c-1", CounterCommand::Add(7), Metadata::default()),
    );
    assert!(matches!(refused, Err(Refused::Rejected(_))), "{refused:?}");
    assert_eq!(added.expect("added").state.value, 7);
    let stored = store
        .read_stream("c-1", StreamQuery::all())
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn a_redelivered_change_is_a_duplicate_and_appends_nothing() {
    let store = CountingStore::new(MemoryStore::new());
    let batched = Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never());
    let first = batched
        .execute("c-1", CounterCommand::Add(2), cdc(42))
        .await
        .expect("first");
    assert!(!first.duplicate);
    let again = batched
        .execute("c-1", CounterCommand::Add(2), cdc(42))
        .await
        .expect("again");
    assert!(again.duplicate);
    assert!(again.events.is_empty());
    assert_eq!(again.state.value, 2);
    let stored = store
        .read_stream("c-1", StreamQuery::all())
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_id, cdc(42).source.expect("cdc").event_id(0));
}

#[tokio::test]
async fn a_kept_state_gone_stale_is_loaded_again() {
    let store = CountingStore::new(MemoryStore::new());
    let batched =
        Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never()).keeping_state();
    batched
        .execute("c-1", CounterCommand::Add(1), Metadata::default())
        .await
        .expect("first");
    store.reset();
    batched
        .execute("c-1", CounterCommand::Add(1), Metadata::default())
        .await
        .expect("from memory");
    assert_eq!(store.events_read(), 0, "the kept state was used");
    // Another writer appends: the kept state is behind, the append conflicts, the batch is
    // decided again on a fresh load.
    Repository::<Counter, _>::new(store.clone())
        .execute("c-1", CounterCommand::Add(10), Metadata::default())
        .await
        .expect("other writer");
    let done = batched
        .execute("c-1", CounterCommand::Add(1), Metadata::default())
        .await
        .expect("after the conflict");
    assert_eq!(done.state.value, 13);
    assert_eq!(done.events[0].stream_version, 4);
}

#[tokio::test]
async fn snapshots_are_taken_when_the_policy_says() {
    let store = CountingStore::new(MemoryStore::new());
    let batched = Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::every(2));
    for _ in 0..3 {
        batched
            .execute("c-1", CounterCommand::Add(1), Metadata::default())
            .await
            .expect("added");
    }
    let loaded = Repository::<Counter, _>::new(store.clone())
        .load("c-1")
        .await
        .expect("load");
    assert_eq!(loaded.snapshot_version, Some(2));
    assert_eq!(loaded.state.value, 3);
}

#[tokio::test]
async fn a_lingering_command_shares_its_batch_with_one_that_comes_a_moment_later() {
    let store = CountingStore::new(MemoryStore::new());
    stream_of(&store, 3).await;
    let batched = Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never())
        .lingering(std::time::Duration::from_millis(50));
    let later = async {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        batched
            .execute("c-1", CounterCommand::Add(2), Metadata::default())
            .await
    };
    let (first, second) = tokio::join!(
        batched.execute("c-1", CounterCommand::Add(1), Metadata::default()),
        later
    );
    assert_eq!(store.events_read(), 3, "one load for both");
    assert_eq!(first.expect("first").state.value, 6);
    assert_eq!(second.expect("second").state.value, 6);
}

#[tokio::test]
async fn only_the_streams_written_last_keep_their_state() {
    let store = CountingStore::new(MemoryStore::new());
    let batched =
        Batched::<Counter, _>::new(store.clone(), SnapshotPolicy::never()).keeping_state();
    let streams = super::KEPT_STREAMS + 1;
    for i in 0..streams {
        batched
            .execute(
                &format!("c-{i}"),
                CounterCommand::Add(1),
                Metadata::default(),
            )
            .await
            .expect("added");
    }
    let kept = {
        let lanes = batched.inner.lanes.lock().expect("lanes");
        (lanes.kept.len(), lanes.by_stream.len())
    };
    assert_eq!(
        kept,
        (super::KEPT_STREAMS, super::KEPT_STREAMS),
        "the oldest was forgotten"
    );
    store.reset();
    batched
        .execute("c-1", CounterCommand::Add(1), Metadata::default())
        .await
        .expect("from memory");
    assert_eq!(store.events_read(), 0, "a recent stream's state was kept");
    let done = batched
        .execute("c-0", CounterCommand::Add(1), Metadata::default())
        .await
        .expect("loaded");
    assert_eq!(
        store.events_read(),
        1,
        "the forgotten stream was loaded again"
    );
    assert_eq!(done.state.value, 2);
}
