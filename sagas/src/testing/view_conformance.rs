//! The conformance suite every saga view backend passes.
//!
//! Each check is a public async function taking a function that makes a fresh view of a given
//! choreography; [`choreography_view_conformance!`] turns them into one `#[tokio::test]` each.
//! Checks name their choreography uniquely, so they also pass on a shared database.
//!
//! [`choreography_view_conformance!`]: crate::choreography_view_conformance

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use keel_core::store::Position;
use keel_core::subscription::EventHandler;
use keel_core::{Metadata, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::choreography::{
    Choreography, ChoreographyState as S, ChoreographyStep, ChoreographyView, Compensation,
    StatusQuery,
};

/// place → reserve → pay → confirm; a failed payment releases the stock and cancels the order.
pub fn order(name: &str) -> Choreography {
    Choreography::new(name)
        .step(
            ChoreographyStep::new("orders", "place", "OrderPlaced")
                .compensate(Compensation::new(["PaymentFailed"], "OrderCancelled")),
        )
        .step(
            ChoreographyStep::new("inventory", "reserve", "InventoryReserved")
                .on(["OrderPlaced"])
                .fails("InventoryRejected")
                .compensate(Compensation::new(["PaymentFailed"], "InventoryReleased")),
        )
        .step(
            ChoreographyStep::new("payment", "pay", "PaymentCaptured")
                .on(["InventoryReserved"])
                .fails("PaymentFailed"),
        )
        .step(ChoreographyStep::new("orders", "confirm", "OrderConfirmed").on(["PaymentCaptured"]))
}

/// A recorded event of `correlation` (none when `None`), recorded `ago` seconds ago.
pub fn event(correlation: Option<Uuid>, event_type: &str, ago: i64) -> RecordedEvent {
    static SEQ: AtomicU64 = AtomicU64::new(1);
    let at = Utc::now() - chrono::Duration::seconds(ago);
    RecordedEvent {
        event_id: Uuid::new_v4(),
        stream_id: format!("conf-{}", correlation.unwrap_or_default().simple()),
        stream_version: 1,
        position: Position::new(0, SEQ.fetch_add(1, Ordering::Relaxed)),
        occurred_at: at,
        recorded_at: at,
        event_type: event_type.to_owned(),
        schema_version: 1,
        payload: Value::Null,
        metadata: Metadata {
            correlation_id: correlation,
            ..Metadata::default()
        },
    }
}

async fn feed<V: EventHandler>(view: &mut V, events: &[RecordedEvent]) {
    for event in events {
        view.handle(event)
            .await
            .expect("the view handles the event");
    }
}

fn name() -> String {
    keel_core::testing::unique("conf-view", '-')
}

/// Each instance reads back by correlation id with its state, steps, failure and events.
pub async fn status_by_correlation_id<V, F, Fut>(make: F)
where
    V: ChoreographyView + EventHandler,
    F: FnOnce(Choreography) -> Fut,
    Fut: Future<Output = V>,
{
    let mut view = make(order(&name())).await;
    let (done, undone) = (Uuid::new_v4(), Uuid::new_v4());
    let events = [
        event(Some(done), "OrderPlaced", 50),
        event(Some(undone), "OrderPlaced", 40),
        event(Some(done), "InventoryReserved", 30),
        event(Some(undone), "InventoryReserved", 30),
        event(Some(done), "PaymentCaptured", 20),
        event(Some(undone), "PaymentFailed", 20),
        event(Some(done), "OrderConfirmed", 10),
        event(Some(undone), "InventoryReleased", 10),
    ];
    feed(&mut view, &events).await;
    let s = view.status(done).await.expect("status").expect("stored");
    assert_eq!(s.state, S::Completed);
    assert_eq!(s.completed, ["place", "reserve", "pay", "confirm"]);
    assert_eq!(s.events.len(), 4);
    assert_eq!(s.events[0].event_id, events[0].event_id);
    assert_eq!(s.started_at, events[0].recorded_at);
    assert_eq!(s.updated_at, events[6].recorded_at);
    let s = view.status(undone).await.expect("status").expect("stored");
    assert_eq!(s.state, S::Compensating);
    assert_eq!(s.failure.as_deref(), Some("PaymentFailed"));
    assert_eq!(s.compensated, ["reserve"]);
    assert_eq!(s.awaiting, ["place"], "the order is still to be cancelled");
    feed(&mut view, &[event(Some(undone), "OrderCancelled", 0)]).await;
    let s = view.status(undone).await.expect("status").expect("stored");
    assert_eq!(s.state, S::Compensated);
    assert!(s.awaiting.is_empty());
    assert!(view.status(Uuid::new_v4()).await.expect("status").is_none());
}

/// An event handled twice (a re-delivery) is counted once.
pub async fn a_repeated_event_changes_nothing<V, F, Fut>(make: F)
where
    V: ChoreographyView + EventHandler,
    F: FnOnce(Choreography) -> Fut,
    Fut: Future<Output = V>,
{
    let mut view = make(order(&name())).await;
    let id = Uuid::new_v4();
    let placed = event(Some(id), "OrderPlaced", 5);
    let reserved = event(Some(id), "InventoryReserved", 1);
    feed(
        &mut view,
        &[placed.clone(), reserved.clone(), placed, reserved],
    )
    .await;
    let s = view.status(id).await.expect("status").expect("stored");
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.completed, ["place", "reserve"]);
    assert_eq!(s.awaiting, ["pay"]);
}

/// Events without a correlation id, of other types, or of an instance that never started (a
/// compensation's trigger, a later step's event, before the start's) leave the view empty.
pub async fn ignores_what_is_not_its_own<V, F, Fut>(make: F)
where
    V: ChoreographyView + EventHandler,
    F: FnOnce(Choreography) -> Fut,
    Fut: Future<Output = V>,
{
    let mut view = make(order(&name())).await;
    let id = Uuid::new_v4();
    feed(
        &mut view,
        &[
            event(None, "OrderPlaced", 1),
            event(Some(id), "StockCounted", 1),
            event(Some(id), "PaymentFailed", 1),
            event(Some(id), "InventoryReserved", 1),
        ],
    )
    .await;
    assert!(view.status(id).await.expect("status").is_none());
    assert!(view.counts().await.expect("counts").is_empty());
    assert!(
        view.find(&StatusQuery::all())
            .await
            .expect("find")
            .is_empty()
    );
}

/// Instances are found by state, by the step they wait for and by how long they stood still,
/// ordered by their last event, limited; and counted per state.
pub async fn finds_stuck_instances_and_counts_states<V, F, Fut>(make: F)
where
    V: ChoreographyView + EventHandler,
    F: FnOnce(Choreography) -> Fut,
    Fut: Future<Output = V>,
{
    let mut view = make(order(&name())).await;
    let [a, b, c, d] = [(); 4].map(|()| Uuid::new_v4());
    feed(
        &mut view,
        &[
            // a: waits for `pay` since 130 s; b: waits for `pay` since now.
            event(Some(a), "OrderPlaced", 200),
            event(Some(a), "InventoryReserved", 130),
            event(Some(b), "OrderPlaced", 5),
            event(Some(b), "InventoryReserved", 0),
            // c: failed 120 s ago, its stock not released yet.
            event(Some(c), "OrderPlaced", 300),
            event(Some(c), "InventoryReserved", 200),
            event(Some(c), "PaymentFailed", 120),
            // d: completed 10 s ago.
            event(Some(d), "OrderPlaced", 40),
            event(Some(d), "InventoryReserved", 30),
            event(Some(d), "PaymentCaptured", 20),
            event(Some(d), "OrderConfirmed", 10),
        ],
    )
    .await;
    let ids = |found: Vec<crate::choreography::ChoreographyStatus>| -> Vec<Uuid> {
        found.into_iter().map(|s| s.correlation_id).collect()
    };
    let find = |q: StatusQuery| {
        let view = &view;
        async move { ids(view.find(&q).await.expect("find")) }
    };
    assert_eq!(
        find(StatusQuery::stuck("pay", Duration::from_secs(60))).await,
        [a]
    );
    assert_eq!(
        find(StatusQuery::stuck("reserve", Duration::from_secs(60))).await,
        [c]
    );
    assert_eq!(find(StatusQuery::unfinished()).await, [a, c, b]);
    assert_eq!(
        find(StatusQuery::unfinished().newest_first()).await,
        [b, c, a]
    );
    assert_eq!(find(StatusQuery::unfinished().limit(2)).await, [a, c]);
    assert_eq!(find(StatusQuery::in_state(S::Completed)).await, [d]);
    assert_eq!(
        find(StatusQuery::all().newest_first().limit(2)).await,
        [b, d]
    );
    assert_eq!(
        find(StatusQuery::all().idle_for(Duration::from_secs(60))).await,
        [a, c]
    );
    let counts = view.counts().await.expect("counts");
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [(S::Running, 2), (S::Completed, 1), (S::Compensating, 1)]
    );
}

/// One `#[tokio::test]` per check of [`crate::testing::view_conformance`], each making its
/// view with `$make`, a function from a `Choreography` to a future of the view.
#[macro_export]
macro_rules! choreography_view_conformance {
    ($make:expr) => {
        #[tokio::test]
        async fn status_by_correlation_id() {
            $crate::testing::view_conformance::status_by_correlation_id($make).await;
        }
        #[tokio::test]
        async fn a_repeated_event_changes_nothing() {
            $crate::testing::view_conformance::a_repeated_event_changes_nothing($make).await;
        }
        #[tokio::test]
        async fn ignores_what_is_not_its_own() {
            $crate::testing::view_conformance::ignores_what_is_not_its_own($make).await;
        }
        #[tokio::test]
        async fn finds_stuck_instances_and_counts_states() {
            $crate::testing::view_conformance::finds_stuck_instances_and_counts_states($make).await;
        }
    };
}
