//! The persisted saga view kept by a checkpointed subscription on real databases: SQLite (a
//! file) and the PostgreSQL of the local stack (`make up`, a database of its own per test).
//! Beside the event store on the same database, the view's rows and the checkpoint commit in
//! one transaction: a batch that fails stores neither.
#![cfg(feature = "integration")]
#![allow(clippy::unwrap_used)] // helpers outside `#[test]` functions unwrap too

mod choreography_support;

use std::time::Duration;

use async_trait::async_trait;
use choreography_support::{Orders, Payment, order_choreography};
use chrono::Utc;
use keel_core::store::{EventStore, ExpectedVersion, Position, PostgresStore, SqliteStore};
use keel_core::subscription::{HandlerError, Subscription, TransactionalHandler};
use keel_core::{Metadata, NewEvent, RecordedEvent};
use keel_sagas::choreography::{
    ChoreographyState, ChoreographyView, PostgresChoreographyView, Reactor, SqliteChoreographyView,
    StatusQuery,
};
use serde_json::json;
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

/// Appends `types` to `order-<n>` under one new correlation id.
async fn instance(store: &impl EventStore, n: u32, types: &[&str]) -> Uuid {
    let correlation_id = Uuid::new_v4();
    for event_type in types {
        let event = NewEvent {
            event_id: Uuid::new_v4(),
            event_type: (*event_type).into(),
            schema_version: 1,
            payload: json!({}),
            metadata: Metadata {
                correlation_id: Some(correlation_id),
                ..Metadata::default()
            },
            occurred_at: Utc::now(),
        };
        store
            .append(&format!("order-{n}"), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    correlation_id
}

/// Delegates to the view, failing at the `n`th event of a batch (to test atomicity).
struct FailingAt<V> {
    view: V,
    seen: usize,
    fail_at: usize,
}

#[async_trait]
impl<DB: sqlx::Database, V: TransactionalHandler<DB>> TransactionalHandler<DB> for FailingAt<V> {
    async fn handle(
        &mut self,
        conn: &mut DB::Connection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        self.seen += 1;
        if self.seen == self.fail_at {
            return Err("injected failure".into());
        }
        self.view.handle(conn, event).await
    }
}

/// The scenario both databases run: three instances, a failed batch that leaves no trace, then
/// the view caught up transactionally, a reactor moving one instance on, and the view following.
async fn scenario<S, V>(store: S, view: V)
where
    S: keel_core::subscription::TransactionalStore + Clone,
    V: ChoreographyView + TransactionalHandler<S::Db> + Clone,
{
    let done = instance(
        &store,
        1,
        &[
            "OrderPlaced",
            "InventoryReserved",
            "PaymentCaptured",
            "OrderConfirmed",
        ],
    )
    .await;
    let failed = instance(
        &store,
        2,
        &[
            "OrderPlaced",
            "InventoryReserved",
            "PaymentFailed",
            "OrderCancelled",
        ],
    )
    .await;
    let waiting = instance(&store, 3, &["OrderPlaced", "InventoryReserved"]).await;
    let subscription = Subscription::new(store.clone(), "choreography-view:order");

    let mut failing = FailingAt {
        view: view.clone(),
        seen: 0,
        fail_at: 7,
    };
    subscription
        .catch_up_transactional(&mut failing)
        .await
        .expect_err("the injected failure stops the batch");
    assert_eq!(subscription.checkpoint().await.unwrap(), Position::START);
    assert!(
        view.status(done).await.unwrap().is_none(),
        "no row of the failed batch was kept"
    );

    let mut handler = view.clone();
    assert_eq!(
        subscription
            .catch_up_transactional(&mut handler)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        subscription.checkpoint().await.unwrap(),
        store.head().await.unwrap()
    );
    let state = |s: Option<keel_sagas::choreography::ChoreographyStatus>| s.unwrap().state;
    assert_eq!(
        state(view.status(done).await.unwrap()),
        ChoreographyState::Completed
    );
    assert_eq!(
        state(view.status(failed).await.unwrap()),
        ChoreographyState::Compensating
    );
    let stuck = view
        .find(&StatusQuery::stuck("pay", Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].correlation_id, waiting);

    // The payment participant answers; the view, caught up again, sees the instance move on.
    let mut payment = Reactor::new(Payment, store.clone());
    Subscription::new(store.clone(), Reactor::<Payment, S>::subscription_name())
        .catch_up(&mut payment)
        .await
        .unwrap();
    let mut orders = Reactor::new(Orders, store.clone());
    Subscription::new(store.clone(), Reactor::<Orders, S>::subscription_name())
        .catch_up(&mut orders)
        .await
        .unwrap();
    subscription
        .catch_up_transactional(&mut handler)
        .await
        .unwrap();
    let status = view.status(waiting).await.unwrap().unwrap();
    assert_eq!(status.state, ChoreographyState::Completed);
    assert_eq!(status.completed, ["place", "reserve", "pay", "confirm"]);
    let counts = view.counts().await.unwrap();
    assert_eq!(counts.get(&ChoreographyState::Completed), Some(&2));
    assert_eq!(counts.get(&ChoreographyState::Compensating), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_view_and_checkpoint_commit_together() {
    let dir = std::env::temp_dir().join(format!("keel-choreo-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("events.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let view = SqliteChoreographyView::from_pool(store.pool().clone(), order_choreography())
        .await
        .unwrap();
    scenario(store, view).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_view_and_checkpoint_commit_together() {
    let admin_url = keel_core::testing::stack::postgres().require().url;
    let admin = PgPool::connect(&admin_url).await.unwrap();
    let name = format!("keel_test_choreo_{}", Uuid::new_v4().simple());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let base = admin_url.split('?').next().unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    {
        let store = PostgresStore::connect(&url).await.unwrap();
        let view = PostgresChoreographyView::from_pool(store.pool().clone(), order_choreography())
            .await
            .unwrap();
        scenario(store.clone(), view).await;
        store.pool().close().await;
    }
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&admin)
        .await
        .unwrap();
}
