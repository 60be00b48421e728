//! Dead letters: `errors.tolerance`, the runner routing undecodable events to a destination, and
//! the destinations that need no server (memory, SQLite).

mod common;

use common::*;
use keel_core::store::{EventStore, ExpectedVersion, MemoryStore};
use keel_core::{NewEvent, Position};
use keel_projections::dead_letter::{DeadLetterStage, MemoryDeadLetters};
use keel_projections::sinks::MemorySink;
use keel_projections::{Error, ErrorTolerance, ProjectionRunner, RunnerConfig};
use serde_json::json;

fn tolerate_all() -> RunnerConfig {
    RunnerConfig {
        batch_size: 10,
        errors_tolerance: ErrorTolerance::All,
        ..RunnerConfig::default()
    }
}

/// An `OrderPlaced` whose payload does not decode (the customer is a number).
async fn append_poison(store: &impl EventStore, stream: &str) -> NewEvent {
    let bad = NewEvent {
        payload: json!({"customer": 5, "total_cents": 1}),
        ..NewEvent::from_domain(&placed("a", 1)).expect("an event")
    };
    store
        .append(stream, ExpectedVersion::Any, vec![bad.clone()])
        .await
        .expect("appending to the memory store");
    bad
}

#[tokio::test]
async fn with_tolerance_all_an_undecodable_event_is_dead_lettered_and_the_projection_goes_on() {
    let store = MemoryStore::new();
    append(&store, "order-1", &[placed("ada", 4200)]).await;
    let bad = append_poison(&store, "order-9").await;
    append(&store, "order-2", &[placed("bob", 100)]).await;
    append(&store, "order-1", &[cancelled("late")]).await;

    let sink = MemorySink::new();
    let letters = MemoryDeadLetters::new();
    let runner = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(sink.clone())
        .with_dead_letters(letters.clone())
        .with_config(tolerate_all())
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 4);

    assert_eq!(runner.lag().await.unwrap().events_behind, 0);
    assert_eq!(sink.document("order-1").unwrap()["status"], "cancelled");
    assert_eq!(sink.document("order-2").unwrap()["customer"], "bob");
    assert_eq!(sink.document("order-9"), None);
    let all = letters.all();
    assert_eq!(all.len(), 1, "{all:?}");
    let letter = &all[0];
    assert_eq!(letter.projection, "orders");
    assert_eq!(letter.stage, DeadLetterStage::Decode);
    assert_eq!(letter.event_id, bad.event_id);
    assert_eq!(letter.event_type, "OrderPlaced");
    assert_eq!(letter.schema_version, bad.schema_version);
    assert_eq!(letter.stream_id, "order-9");
    assert_eq!(letter.stream_version, 1);
    assert_eq!(letter.position.seq, 2);
    assert_eq!(letter.payload, bad.payload);
    assert!(letter.reason.contains("invalid type"), "{}", letter.reason);

    // Replaying the range puts the same letter once.
    keel_core::store::CheckpointStore::save_checkpoint(
        &store,
        runner.checkpoint_name(),
        Position::START,
    )
    .await
    .unwrap();
    runner.catch_up().await.unwrap();
    assert_eq!(letters.all().len(), 1);
}

#[tokio::test]
async fn with_the_default_tolerance_an_undecodable_event_stops_and_nothing_is_dead_lettered() {
    let store = MemoryStore::new();
    append_poison(&store, "order-9").await;
    let letters = MemoryDeadLetters::new();
    let runner = ProjectionRunner::new(store.clone(), Orders("orders".into()))
        .with_sink(MemorySink::new())
        .with_dead_letters(letters.clone());
    let err = runner.catch_up().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert_eq!(runner.checkpoint().await.unwrap(), Position::START);
    assert!(letters.all().is_empty());
}

#[tokio::test]
async fn tolerance_all_without_a_dead_letter_destination_is_a_config_error() {
    let runner = ProjectionRunner::new(MemoryStore::new(), Orders("orders".into()))
        .with_sink(MemorySink::new())
        .with_config(tolerate_all())
        .unwrap();
    let err = runner.catch_up().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                key: "errors.tolerance",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn memory_dead_letters_keep_letters_once_with_every_field() {
    dead_letters::keeps_letters_once_with_every_field(MemoryDeadLetters::new()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_dead_letters_keep_letters_once_with_every_field_in_the_event_stores_database() {
    use keel_projections::dead_letter::{DeadLetterStore, SqliteDeadLetters};
    let store = keel_core::store::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let letters = SqliteDeadLetters::from_pool(store.pool().clone())
        .await
        .unwrap();
    let projection = dead_letters::keeps_letters_once_with_every_field(letters).await;
    // Building it again on the same database keeps the table and its rows.
    let again = SqliteDeadLetters::from_pool(store.pool().clone())
        .await
        .unwrap();
    assert_eq!(again.list(&projection).await.unwrap().len(), 5);
}
