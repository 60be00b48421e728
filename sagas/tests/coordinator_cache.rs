//! A coordinator keeps the instances it stored in memory; another coordinator over the same
//! store may move them on. A stale entry must never make it drop a reply or apply one twice.

mod common;

use common::order_saga;
use keel_sagas::store::{MemorySagaStore, SagaStore};
use keel_sagas::{
    ChannelTransport, CommandEnvelope, Coordinator, ReplyDisposition, ReplyOutcome, SagaState,
};
use serde_json::json;
use tokio::sync::mpsc;

type Both = (
    Coordinator<MemorySagaStore, ChannelTransport>,
    Coordinator<MemorySagaStore, ChannelTransport>,
);

/// The command channels of inventory, payment and shipping.
type Channels = [mpsc::Receiver<CommandEnvelope>; 3];

/// Two coordinators over one store, and the participants' command channels.
fn two_coordinators(store: &MemorySagaStore) -> (Both, Channels) {
    let transport = ChannelTransport::new();
    let channels = ["inventory", "payment", "shipping"].map(|p| transport.connect(p, 8));
    let coordinator = || {
        Coordinator::new(store.clone(), transport.clone())
            .register(order_saga("order"))
            .expect("saga")
    };
    ((coordinator(), coordinator()), channels)
}

#[tokio::test]
async fn a_reply_is_applied_when_the_cached_instance_is_behind_the_store() {
    let store = MemorySagaStore::new();
    let ((a, b), [mut inventory, mut payment, _shipping]) = two_coordinators(&store);
    a.start("order", "o-1", json!({ "total_cents": 1 }))
        .await
        .expect("start");
    let reserve = inventory.recv().await.expect("reserve");
    // B applies the first reply: the store moves on, A's memory does not.
    let applied = b
        .handle_reply(reserve.reply(ReplyOutcome::success()))
        .await
        .expect("reply");
    assert_eq!(applied, ReplyDisposition::Applied(SagaState::Running));
    let capture = payment.recv().await.expect("capture");
    let applied = a
        .handle_reply(capture.reply(ReplyOutcome::success()))
        .await
        .expect("reply");
    assert_eq!(
        applied,
        ReplyDisposition::Applied(SagaState::Running),
        "A read the store instead of ignoring the reply"
    );
    let saga = store
        .load("order", "o-1")
        .await
        .expect("load")
        .expect("saga");
    assert_eq!(saga.completed_steps, vec![0, 1]);
}

#[tokio::test]
async fn a_duplicate_reply_that_matches_a_stale_cached_instance_is_ignored() {
    let store = MemorySagaStore::new();
    let ((a, b), [mut inventory, mut payment, _shipping]) = two_coordinators(&store);
    a.start("order", "o-1", json!({ "total_cents": 1 }))
        .await
        .expect("start");
    let reserve = inventory.recv().await.expect("reserve");
    let reply = reserve.reply(ReplyOutcome::success());
    b.handle_reply(reply.clone()).await.expect("reply");
    assert!(payment.recv().await.is_some(), "B sent the next command");
    let version = store
        .load("order", "o-1")
        .await
        .expect("load")
        .expect("saga")
        .version;
    // A still remembers the saga waiting for this very reply: its update must lose.
    let again = a.handle_reply(reply).await.expect("duplicate");
    assert_eq!(again, ReplyDisposition::Ignored);
    let saga = store
        .load("order", "o-1")
        .await
        .expect("load")
        .expect("saga");
    assert_eq!(saga.version, version, "nothing was written");
    assert!(payment.try_recv().is_err(), "no command was sent twice");
    assert_eq!(a.metrics().replies_ignored, 1);
}
