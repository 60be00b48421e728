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

/// A live subscription on PostgreSQL is woken by `NOTIFY`: with polling set to 60 s, an event
/// appended while it waits is still handled within seconds.
#[tokio::test(flavor = "multi_thread")]
async fn live_subscription_is_woken_by_notify() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use keel_core::RecordedEvent;
    use keel_core::store::{EventStore, ExpectedVersion};
    use keel_core::subscription::{EventHandler, HandlerError, Subscription};

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);
    #[async_trait::async_trait]
    impl EventHandler for Seen {
        async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
            self.0.lock().expect("lock").push(event.stream_id.clone());
            Ok(())
        }
    }

    let store = store().await;
    let name = keel_core::testing::conformance::unique_stream("live-sub");
    store.save_checkpoint_by_head(&name).await;
    let subscription = Subscription::new(store.clone(), name).idle_wait(Duration::from_secs(60));
    let seen = Seen::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let mut handler = seen.clone();
        tokio::spawn(async move {
            subscription
                .run(&mut handler, async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = keel_core::testing::conformance::unique_stream("live");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![keel_core::doc::new_event()],
        )
        .await
        .expect("append");
    let woke = tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.0.lock().expect("lock").contains(&stream) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _ = stop.send(());
    runner.await.expect("join").expect("run");
    assert!(
        woke.is_ok(),
        "the appended event was not handled within 10 s (polling is 60 s)"
    );
}

/// Starts a subscription's checkpoint at the current head, so it skips the shared database's
/// history.
trait StartAtHead {
    async fn save_checkpoint_by_head(&self, name: &str);
}

impl StartAtHead for PostgresStore {
    async fn save_checkpoint_by_head(&self, name: &str) {
        use keel_core::store::{CheckpointStore, EventStore};
        let head = self.head().await.expect("head");
        self.save_checkpoint(name, head).await.expect("checkpoint");
    }
}
