//! Checkpointed subscriptions: catch-up, live following, transactional checkpoints.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keel_core::RecordedEvent;
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, SqliteStore};
use keel_core::subscription::{EventHandler, HandlerError, Subscription, TransactionalHandler};

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<RecordedEvent>>>);

#[async_trait]
impl EventHandler for Collect {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.0.lock().expect("lock").push(event.clone());
        Ok(())
    }
}

fn events(n: usize) -> Vec<keel_core::NewEvent> {
    (0..n).map(|_| keel_core::doc::new_event()).collect()
}

#[tokio::test]
async fn live_subscription_sees_appends_made_while_it_runs() {
    let store = MemoryStore::new();
    store
        .append("a", ExpectedVersion::Any, events(3))
        .await
        .expect("append");
    let subscription =
        Subscription::new(store.clone(), "live").idle_wait(Duration::from_millis(20));
    let seen = Collect::default();
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
    store
        .append("b", ExpectedVersion::Any, events(2))
        .await
        .expect("append");
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.0.lock().expect("lock").len() < 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("five events within 10 s");
    let _ = stop.send(());
    runner.await.expect("join").expect("run");
    let streams: Vec<String> = seen
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.stream_id.clone())
        .collect();
    assert_eq!(streams, ["a", "a", "a", "b", "b"]);
}

struct FailOn(&'static str);

#[async_trait]
impl EventHandler for FailOn {
    async fn handle(&mut self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if event.stream_id == self.0 {
            Err("refused".into())
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_failing_handler_stops_before_the_checkpoint_and_names_the_event() {
    let store = MemoryStore::new();
    store
        .append("ok", ExpectedVersion::Any, events(2))
        .await
        .expect("append");
    store
        .append("bad", ExpectedVersion::Any, events(1))
        .await
        .expect("append");
    let subscription = Subscription::new(store.clone(), "failing").batch_size(2);
    let err = subscription
        .catch_up(&mut FailOn("bad"))
        .await
        .expect_err("fails");
    let message = err.to_string();
    assert!(
        message.contains("failing") && message.contains("bad") && message.contains("refused"),
        "{message}"
    );
    assert_eq!(
        subscription.checkpoint().await.expect("checkpoint").seq,
        2,
        "the first batch was checkpointed"
    );
}

/// Writes one row per event through the subscription's transaction; fails on a marked stream.
struct Project {
    fail_on: Option<&'static str>,
}

#[async_trait]
impl TransactionalHandler<sqlx::Sqlite> for Project {
    async fn handle(
        &mut self,
        conn: &mut sqlx::SqliteConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO read_model (event_id) VALUES (?1)")
            .bind(event.event_id)
            .execute(conn)
            .await?;
        if self.fail_on == Some(event.stream_id.as_str()) {
            return Err("refused".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn transactional_checkpoint_commits_with_the_handlers_writes_or_not_at_all() {
    let path = std::env::temp_dir().join(format!("keel-sub-{}.db", uuid::Uuid::new_v4().simple()));
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    sqlx::query("CREATE TABLE read_model (event_id BLOB PRIMARY KEY)")
        .execute(store.pool())
        .await
        .expect("table");
    store
        .append("good", ExpectedVersion::Any, events(3))
        .await
        .expect("append");
    let subscription = Subscription::new(store.clone(), "projection");
    assert_eq!(
        subscription
            .catch_up_transactional(&mut Project { fail_on: None })
            .await
            .expect("catch up"),
        3
    );

    store
        .append("poison", ExpectedVersion::Any, events(1))
        .await
        .expect("append");
    subscription
        .catch_up_transactional(&mut Project {
            fail_on: Some("poison"),
        })
        .await
        .expect_err("fails");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM read_model")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(
        rows, 3,
        "the failed batch's write was rolled back with its checkpoint"
    );
    assert_eq!(subscription.checkpoint().await.expect("checkpoint").seq, 3);

    assert_eq!(
        subscription
            .catch_up_transactional(&mut Project { fail_on: None })
            .await
            .expect("retry"),
        1
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM read_model")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 4);
}

/// The checkpoint is read from the store once per `catch_up` or `run`; between batches and
/// while waiting for new events the subscription keeps its position in memory.
#[tokio::test]
async fn the_checkpoint_is_read_once_then_kept_in_memory() {
    use keel_core::testing::CountingStore;

    let store = CountingStore::new(MemoryStore::new());
    store
        .append("a", ExpectedVersion::Any, events(10))
        .await
        .expect("append");
    let subscription = Subscription::new(store.clone(), "counted")
        .batch_size(2)
        .idle_wait(Duration::from_millis(10));
    let seen = Collect::default();
    assert_eq!(
        subscription
            .catch_up(&mut seen.clone())
            .await
            .expect("catch up"),
        10
    );
    assert_eq!(store.checkpoints_loaded(), 1, "five batches, one read");

    store.reset();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let (subscription, mut handler) = (subscription.clone(), seen.clone());
        tokio::spawn(async move {
            subscription
                .run(&mut handler, async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    for _ in 0..3 {
        // Long enough for the runner to find nothing and wait a few times.
        tokio::time::sleep(Duration::from_millis(50)).await;
        store
            .append("b", ExpectedVersion::Any, events(3))
            .await
            .expect("append");
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.0.lock().expect("lock").len() < 19 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("nine live events within 10 s");
    let _ = stop.send(());
    runner.await.expect("join").expect("run");
    assert_eq!(
        store.checkpoints_loaded(),
        1,
        "run read the checkpoint once, then followed from memory"
    );
    let last = seen.0.lock().expect("lock").last().map(|e| e.position);
    assert_eq!(
        Some(subscription.checkpoint().await.expect("checkpoint")),
        last,
        "every batch was checkpointed"
    );
}
