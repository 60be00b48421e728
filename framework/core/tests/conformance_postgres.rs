//! The store conformance suite on the PostgreSQL backend of the local stack (`make up`).
#![cfg(feature = "integration")]

use keel_core::store::PostgresStore;
use keel_core::testing::stack;

async fn store() -> PostgresStore {
    let url = stack::postgres().require().url;
    PostgresStore::connect(&url)
        .await
        .expect("connect to PostgreSQL")
}

keel_core::conformance_tests!(store(), 100_000);

/// A closed pool gives a retryable error, not a panic.
#[tokio::test]
async fn closed_database_is_a_retryable_error() {
    use keel_core::store::{EventStore, ExpectedVersion};
    let store = store().await;
    store.pool().close().await;
    let err = store
        .append("s", ExpectedVersion::Any, vec![keel_core::doc::new_event()])
        .await
        .expect_err("closed");
    assert!(err.is_retryable(), "{err}");
}

/// The gap problem: a transaction that took its sequence number first but commits last is not
/// skipped. A reader ordering by sequence alone would return the later event, move its
/// checkpoint past the earlier one, and never see it.
#[tokio::test]
async fn late_commit_is_not_skipped() {
    use keel_core::store::{EventStore, ExpectedVersion};
    let store = store().await;
    let start = store.head().await.expect("head");
    let early = keel_core::testing::conformance::unique_stream("gap-early");
    let late = keel_core::testing::conformance::unique_stream("gap-late");

    // A slow writer: takes its sequence number, then stalls before committing.
    let mut slow = store.pool().begin().await.expect("begin");
    let slow_id = uuid::Uuid::new_v4();
    let slow_seq: i64 = sqlx::query_scalar(
        "INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, schema_version, \
         payload, metadata, occurred_at) VALUES ($1, $2, 1, 'Noted', 1, '{}', '{}', now()) RETURNING seq",
    )
    .bind(slow_id)
    .bind(&early)
    .fetch_one(&mut *slow)
    .await
    .expect("slow insert");

    // A fast writer commits after it, with a higher sequence number.
    let fast = store
        .append(
            &late,
            ExpectedVersion::NoStream,
            vec![keel_core::doc::new_event()],
        )
        .await
        .expect("fast append");
    assert!(fast.appended[0].position.seq > slow_seq as u64);

    let ours = |events: Vec<keel_core::RecordedEvent>| -> Vec<uuid::Uuid> {
        events
            .into_iter()
            .filter(|e| e.stream_id == early || e.stream_id == late)
            .map(|e| e.event_id)
            .collect()
    };
    let visible = ours(store.read_all(start, 100_000).await.expect("read_all"));
    assert!(
        visible.is_empty(),
        "nothing after the in-flight transaction is readable yet: {visible:?}"
    );

    slow.commit().await.expect("commit");
    let all = ours(store.read_all(start, 100_000).await.expect("read_all"));
    assert_eq!(
        all,
        [slow_id, fast.appended[0].event_id],
        "the late commit comes first, nothing skipped"
    );
}
