//! The store conformance suite on the PostgreSQL backend of the local stack (`make up`).
#![cfg(feature = "integration")]

use keel_core::store::PostgresStore;
use keel_core::testing::conformance::{HELD_BACK_FOR_AT_MOST, wait_out_held_back};
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

/// Payloads and metadata are kept as the text the client serialized (`json` columns, ADR 0052),
/// not re-encoded by the server (`jsonb` would print `{"a": 2, "z": 1}`), on both append paths:
/// the one-statement append and the general path a re-delivered batch takes.
#[tokio::test]
async fn payloads_are_stored_as_the_text_they_were_serialized_to() {
    use keel_core::store::{EventStore, ExpectedVersion};
    let store = store().await;
    let stream = format!("json-text-{}", uuid::Uuid::new_v4());
    let event = |payload| keel_core::NewEvent {
        payload,
        ..keel_core::doc::new_event()
    };
    let first = event(serde_json::json!({"z": 1, "a": 2}));
    let second = event(serde_json::json!({"list": [1, 2], "nested": {"k": null}}));
    store
        .append(&stream, ExpectedVersion::NoStream, vec![first.clone()])
        .await
        .expect("one-statement append");
    // A batch holding a stored event goes down the general path.
    store
        .append(&stream, ExpectedVersion::Any, vec![first, second.clone()])
        .await
        .expect("general-path append");
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT payload::text, metadata::text FROM keel_events WHERE stream_id = $1 \
         ORDER BY stream_version",
    )
    .bind(&stream)
    .fetch_all(store.pool())
    .await
    .expect("select");
    let payloads: Vec<&str> = stored.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        payloads,
        [r#"{"a":2,"z":1}"#, r#"{"list":[1,2],"nested":{"k":null}}"#]
    );
    let metadata = serde_json::to_string(&second.metadata).expect("serialize");
    assert_eq!(stored[1].1, metadata);
    let read = store
        .read_stream(&stream, keel_core::store::StreamQuery::all())
        .await
        .expect("read");
    assert_eq!(read[1].payload, second.payload);
    assert_eq!(read[1].metadata, second.metadata);
}

/// A row whose metadata does not decode fails the read with an error naming the event, even
/// in the middle of the rows (a read decodes each row as it arrives), and the store reads on.
/// In a database of its own, so that no other test's reader meets the row.
#[tokio::test]
async fn a_row_that_does_not_decode_is_an_error_naming_it_and_reads_go_on() {
    use keel_core::store::{EventStore, StreamQuery};
    let (db, store) = OwnDatabase::create("keel_test_corrupt_row").await;
    let stream = "corrupt-row".to_owned();
    for (version, metadata) in [(1, "{}"), (2, r#"{"correlation_id": 5}"#), (3, "{}")] {
        sqlx::query(
            "INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, \
             schema_version, payload, metadata, occurred_at) \
             VALUES ($1, $2, $3, 'Noted', 1, '{}', $4::json, now())",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(&stream)
        .bind(version)
        .bind(metadata)
        .execute(store.pool())
        .await
        .expect("insert");
    }
    for _ in 0..20 {
        let err = store
            .read_stream(&stream, StreamQuery::all())
            .await
            .expect_err("corrupt metadata");
        assert!(
            matches!(&err, keel_core::Error::CorruptPayload { stream_id, stream_version: 2, .. } if *stream_id == stream),
            "{err}"
        );
    }
    let first = store
        .read_stream(&stream, StreamQuery::all().limit(1))
        .await
        .expect("the rows before it still read");
    assert_eq!(first.len(), 1);
    db.drop(store).await;
}

/// A database of a test's own on the stack's server, dropped at the end.
struct OwnDatabase {
    name: String,
    admin: sqlx::PgConnection,
}

impl OwnDatabase {
    /// Creates `<prefix>_<unique>` and connects a store to it (migrations applied).
    async fn create(prefix: &str) -> (Self, PostgresStore) {
        use sqlx::Connection;
        let url = stack::postgres().require().url;
        let name = keel_core::testing::unique(prefix, '_');
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        let root = url.rsplit_once('/').expect("a database in the URL").0;
        let store = PostgresStore::connect(&format!("{root}/{name}"))
            .await
            .expect("connect");
        (Self { name, admin }, store)
    }

    /// Closes `store` and drops the database.
    async fn drop(mut self, store: PostgresStore) {
        store.pool().close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut self.admin)
        .await
        .expect("drop database");
    }
}

/// A transaction held open after taking its sequence number, and an append committed after it.
struct HeldBack {
    /// The slow writer's open transaction.
    slow: sqlx::Transaction<'static, sqlx::Postgres>,
    /// The event it inserted (on the early stream).
    slow_id: uuid::Uuid,
    /// Its sequence number.
    slow_seq: i64,
    /// The fast writer's append (on the late stream), committed.
    fast: keel_core::store::AppendOutcome,
}

/// A slow writer inserts an event on `early` and stalls before committing; a fast writer then
/// commits one on `late`, with a higher sequence number.
async fn held_back(store: &PostgresStore, early: &str, late: &str) -> HeldBack {
    use keel_core::store::{EventStore, ExpectedVersion};
    let mut slow = store.pool().begin().await.expect("begin");
    let slow_id = uuid::Uuid::new_v4();
    let slow_seq: i64 = sqlx::query_scalar(
        "INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, schema_version, \
         payload, metadata, occurred_at) VALUES ($1, $2, 1, 'Noted', 1, '{}', '{}', now()) RETURNING seq",
    )
    .bind(slow_id)
    .bind(early)
    .fetch_one(&mut *slow)
    .await
    .expect("slow insert");
    let fast = store
        .append(
            late,
            ExpectedVersion::NoStream,
            vec![keel_core::doc::new_event()],
        )
        .await
        .expect("fast append");
    HeldBack {
        slow,
        slow_id,
        slow_seq,
        fast,
    }
}

/// The gap problem: a transaction that took its sequence number first but commits last is not
/// skipped. A reader ordering by sequence alone would return the later event, move its
/// checkpoint past the earlier one, and never see it.
#[tokio::test]
async fn late_commit_is_not_skipped() {
    use keel_core::store::EventStore;
    let store = store().await;
    let start = store.head().await.expect("head");
    let early = keel_core::testing::conformance::unique_stream("gap-early");
    let late = keel_core::testing::conformance::unique_stream("gap-late");

    let HeldBack {
        slow,
        slow_id,
        slow_seq,
        fast,
    } = held_back(&store, &early, &late).await;
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
    let deadline = tokio::time::Instant::now() + HELD_BACK_FOR_AT_MOST;
    let mut all = ours(store.read_all(start, 100_000).await.expect("read_all"));
    while all.len() < 2 {
        wait_out_held_back(deadline, format_args!("the two events, both committed")).await;
        all = ours(store.read_all(start, 100_000).await.expect("read_all"));
    }
    assert_eq!(
        all,
        [slow_id, fast.appended[0].event_id],
        "the late commit comes first, nothing skipped"
    );
}

/// Page ends and ranges keep to the horizon like `read_all`: while a transaction that took its
/// sequence number first is still open, no page ends at or past the events committed after it
/// and no range returns them; once it commits, the pages hold both, the late commit first.
#[tokio::test]
async fn page_ends_stop_before_a_held_back_transaction() {
    use keel_core::store::EventStore;
    let store = store().await;
    let start = store.head().await.expect("head");
    let early = keel_core::testing::conformance::unique_stream("pages-early");
    let late = keel_core::testing::conformance::unique_stream("pages-late");

    let HeldBack {
        slow,
        slow_id,
        fast,
        ..
    } = held_back(&store, &early, &late).await;
    let fast_at = fast.appended[0].position;

    let ends = store
        .page_ends(start, 1_000, 4)
        .await
        .expect("page_ends")
        .expect("PostgreSQL tells page ends");
    assert!(
        ends.iter().all(|end| *end < fast_at),
        "a page ends past a held-back transaction: {ends:?} vs {fast_at}"
    );
    let held = store.read_range(start, fast_at).await.expect("read_range");
    assert!(
        held.iter()
            .all(|e| e.stream_id != early && e.stream_id != late),
        "a range returned an event read_all holds back"
    );

    slow.commit().await.expect("commit");
    let mut ours = Vec::new();
    let mut from = start;
    let deadline = tokio::time::Instant::now() + HELD_BACK_FOR_AT_MOST;
    while ours.len() < 2 {
        let ends = store
            .page_ends(from, 1_000, 4)
            .await
            .expect("page_ends")
            .expect("PostgreSQL tells page ends");
        if ends.is_empty() {
            wait_out_held_back(deadline, format_args!("no page ends after {from}")).await;
            continue;
        }
        for end in ends {
            let range = store.read_range(from, end).await.expect("read_range");
            ours.extend(
                range
                    .into_iter()
                    .filter(|e| e.stream_id == early || e.stream_id == late)
                    .map(|e| e.event_id),
            );
            from = end;
        }
    }
    assert_eq!(
        ours,
        [slow_id, fast.appended[0].event_id],
        "the late commit first, nothing skipped"
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

/// An event held back by the global order's horizon (an older transaction still runs) wakes a
/// waiter once that transaction ends, even though it ends without appending and so sends no
/// `NOTIFY`: within seconds, not at the 60 s timeout. In a database of its own, so that no
/// other test's events can wake the waiter first.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_back_event_wakes_the_waiter_when_the_older_transaction_ends() {
    use std::time::{Duration, Instant};

    use keel_core::store::{EventStore, ExpectedVersion};
    use sqlx::{Connection, PgConnection};

    let url = stack::postgres().require().url;
    let (db, store) = OwnDatabase::create("keel_test_held_back").await;
    let after = store.head().await.expect("head");

    // An older transaction with an id of its own, open while the event is appended.
    let mut older = PgConnection::connect(&url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut older)
        .await
        .expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut older)
        .await
        .expect("xid");
    store
        .append(
            "held-back",
            ExpectedVersion::NoStream,
            vec![keel_core::doc::new_event()],
        )
        .await
        .expect("append");
    assert!(
        store.read_all(after, 10).await.expect("read").is_empty(),
        "the event is held back while the older transaction runs"
    );

    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store.wait_for_new(after, Duration::from_secs(60)).await;
            Instant::now()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "woke while the event was held back");
    sqlx::query("COMMIT")
        .execute(&mut older)
        .await
        .expect("commit");
    let ended = Instant::now();
    let woke = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter woke within 5 s of the older transaction's end (timeout 60 s)")
        .expect("join");
    assert!(woke >= ended, "woke before the older transaction ended");
    assert_eq!(store.read_all(after, 10).await.expect("read").len(), 1);
    db.drop(store).await;
}
