//! A choreography participant's subscription when a reaction cannot run: a trigger that does
//! not decode is dead-lettered at once, a reaction that keeps failing is dead-lettered after
//! its attempts, one that fails for a while is retried until it succeeds, and in every case
//! the participant goes on with the next event.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore, StreamQuery};
use keel_core::subscription::{HandlerError, Subscription};
use keel_core::{Metadata, NewEvent};
use keel_macros::{Choreography, Event};
use keel_sagas::choreography::{
    DEAD_LETTER_TYPE, Outcome, ReactionRetry, Reactor, Trigger, dead_letter_stream, dead_letters,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
#[event(crate = "keel_core")]
enum PaymentEvent {
    OrderPaid { address: String },
}

/// Ships paid orders; the carrier is down for address `down`, and for address `flaky` the
/// first `flaky` calls.
#[derive(Choreography)]
#[choreography(crate = "keel_sagas", name = "shipment", participant = "shipping")]
#[choreography(step(
    name = "ship",
    on = "OrderPaid",
    handler = Self::ship,
    emits = "OrderShipped"
))]
struct Shipping {
    flaky: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

impl Shipping {
    async fn ship(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> {
        let PaymentEvent::OrderPaid { address } = trigger.decode()?;
        self.calls.fetch_add(1, Ordering::SeqCst);
        let flaky = address == "flaky"
            && self
                .flaky
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if address == "down" || flaky {
            return Err("the carrier's service is down".into());
        }
        Ok(Outcome::success(
            format!("shipment-{}", trigger.stream_id()),
            json!({ "address": address }),
        ))
    }
}

fn reactor(store: &MemoryStore, flaky: u32) -> (Reactor<Shipping, MemoryStore>, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let shipping = Shipping {
        flaky: Arc::new(AtomicU32::new(flaky)),
        calls: Arc::clone(&calls),
    };
    let retry = ReactionRetry {
        attempts: 3,
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    };
    (Reactor::new(shipping, store.clone()).retry(retry), calls)
}

/// Appends an `OrderPaid` with `payload` to `order-<order>`; returns its correlation id.
async fn paid(store: &MemoryStore, order: &str, payload: Value) -> Uuid {
    let correlation_id = Uuid::new_v4();
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "OrderPaid".into(),
        schema_version: 1,
        payload,
        metadata: Metadata {
            correlation_id: Some(correlation_id),
            ..Metadata::default()
        },
        occurred_at: Utc::now(),
    };
    let stream = format!("order-{order}");
    store
        .append(&stream, ExpectedVersion::Any, vec![event])
        .await
        .unwrap();
    correlation_id
}

async fn shipped(store: &MemoryStore, order: &str) -> Vec<String> {
    let stream = format!("shipment-order-{order}");
    let events = store
        .read_stream(&stream, StreamQuery::all())
        .await
        .unwrap();
    events.into_iter().map(|e| e.event_type).collect()
}

async fn run(store: &MemoryStore, reactor: &mut Reactor<Shipping, MemoryStore>, name: &str) {
    Subscription::new(store.clone(), name)
        .catch_up(reactor)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_trigger_that_does_not_decode_is_dead_lettered_once_and_the_next_is_handled() {
    let store = MemoryStore::new();
    let poison = paid(&store, "1", json!({ "street": 12 })).await;
    paid(&store, "2", json!({ "address": "1 Harbour Road" })).await;
    let (mut reactor, calls) = reactor(&store, 0);
    run(&store, &mut reactor, "shipping").await;

    assert_eq!(shipped(&store, "2").await, ["OrderShipped"]);
    assert!(shipped(&store, "1").await.is_empty());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the poison reached no handler"
    );
    let letters = dead_letters(&store, "shipment").await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(
        (letter.participant.as_str(), letter.step.as_str()),
        ("shipping", "ship")
    );
    assert_eq!(letter.kind, "step");
    assert_eq!(letter.trigger_stream, "order-1");
    assert_eq!(letter.trigger_type, "OrderPaid");
    assert_eq!(letter.correlation_id, Some(poison));
    assert_eq!(letter.attempts, 1, "a poison trigger is not retried");
    assert!(
        letter.reason.contains("`OrderPaid` (schema version 1)")
            && letter.reason.contains("does not decode"),
        "{}",
        letter.reason
    );

    // Delivered again (another subscription over the same history): still one dead letter.
    run(&store, &mut reactor, "shipping-again").await;
    let stream = dead_letter_stream("shipment");
    let stored = store
        .read_stream(&stream, StreamQuery::all())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_type, DEAD_LETTER_TYPE);
    assert_eq!(stored[0].metadata.correlation_id, Some(poison));
}

#[tokio::test]
async fn a_reaction_that_keeps_failing_is_dead_lettered_after_its_attempts() {
    let store = MemoryStore::new();
    paid(&store, "1", json!({ "address": "down" })).await;
    paid(&store, "2", json!({ "address": "1 Harbour Road" })).await;
    let (mut reactor, calls) = reactor(&store, 0);
    run(&store, &mut reactor, "shipping").await;

    assert_eq!(
        calls.load(Ordering::SeqCst),
        3 + 1,
        "three attempts, then order 2"
    );
    assert_eq!(shipped(&store, "2").await, ["OrderShipped"]);
    let letters = dead_letters(&store, "shipment").await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].trigger_stream, "order-1");
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(letters[0].reason, "the carrier's service is down");
}

#[tokio::test]
async fn a_reaction_that_fails_for_a_while_is_retried_until_it_succeeds() {
    let store = MemoryStore::new();
    paid(&store, "1", json!({ "address": "flaky" })).await;
    let (mut reactor, calls) = reactor(&store, 2);
    run(&store, &mut reactor, "shipping").await;

    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );
    assert_eq!(shipped(&store, "1").await, ["OrderShipped"]);
    assert!(dead_letters(&store, "shipment").await.unwrap().is_empty());
}
