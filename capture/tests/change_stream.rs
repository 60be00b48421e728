//! The in-process library API against the real MariaDB: a `ChangeStream` yields the same
//! envelopes Kafka would get, and offsets advance only up to what the consumer acknowledged.
//! Run with `cargo test -p keel-capture --features integration --test change_stream`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use keel_capture::offsets::Offset;
use keel_capture::{Capture, ChangeEvent, ChangeStream, Error};
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

mod common;
use common::{Fixture, read_topic};

/// Ten inserts in one transaction, an update of three rows, a delete: 15 records (the delete's
/// tombstone included).
async fn write_changes(fx: &mut Fixture) -> Offset {
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10))"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    let mut tx = fx.root.start_transaction(Default::default()).await.unwrap();
    for i in 0..10 {
        tx.exec_drop(
            format!("INSERT INTO {db}.t VALUES (?, ?)"),
            (i, format!("v{i}")),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    fx.root
        .query_drop(format!("UPDATE {db}.t SET v = 'new' WHERE id < 3"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("DELETE FROM {db}.t WHERE id = 9"))
        .await
        .unwrap();
    start
}

/// The next event, failing the test after 60 s.
async fn next(stream: &mut ChangeStream) -> Option<Result<ChangeEvent, Error>> {
    tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .expect("an event or the end within 60 s")
}

/// A value without the processing time, which differs between any two runs.
fn without_processing_time(v: &Json) -> Json {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["ts_ms", "ts_us", "ts_ns"] {
            o.remove(k);
        }
    }
    v
}

#[tokio::test]
async fn a_change_stream_yields_what_kafka_gets_and_resumes_after_the_last_ack() {
    let mut fx = Fixture::new("stream").await;
    let start = write_changes(&mut fx).await;

    // Kafka first, from the same position with its own offsets file: the reference.
    let kafka_offsets = fx.dir.join("kafka-offsets.json").display().to_string();
    Capture::new(fx.config(&[("offset.storage.file.filename", kafka_offsets.as_str())]))
        .start_at(start.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let kafka = read_topic(&fx.topic("t"), 15);
    assert_eq!(kafka.len(), 15);

    // A stream; the consumer acknowledges the first 6 events (inside the transaction), reads
    // two more without acknowledging them, and closes.
    let mut stream = Capture::new(fx.config(&[]))
        .start_at(start.clone())
        .into_stream();
    let mut seen = Vec::new();
    for i in 0..8 {
        let event = next(&mut stream).await.unwrap().unwrap();
        assert_eq!(event.topic, fx.topic("t"));
        assert_eq!(event.sequence(), i + 1);
        if i < 6 {
            stream.ack(&event);
        }
        seen.push(event);
    }
    let first = stream.close().await.unwrap();
    assert_eq!(first.records_acknowledged, 6);
    let stored = first.offset.unwrap();
    assert_eq!(stored.skip, 6, "{stored:?}");
    assert_eq!(&stored, seen[5].offset());
    for (event, (key, value)) in seen.iter().zip(&kafka) {
        assert_eq!(event.key.as_ref(), Some(key));
        assert_eq!(
            without_processing_time(event.value.as_ref().unwrap()),
            without_processing_time(value),
            "the envelope Kafka got"
        );
        assert_eq!(event.op(), Some("c"));
    }

    // The next stream resumes after the 6th event: the two unacknowledged come again, then
    // the rest, and it ends at the binlog end.
    let mut stream = Capture::new(fx.config(&[]))
        .start_at(start)
        .exit_at_end(true)
        .into_stream();
    let mut rest = Vec::new();
    while let Some(event) = next(&mut stream).await {
        let event = event.unwrap();
        stream.ack(&event);
        rest.push(event);
    }
    let second = stream.close().await.unwrap();
    assert_eq!(
        rest.len(),
        15 - 6,
        "nothing acknowledged comes twice, nothing is lost"
    );
    for (event, (key, value)) in rest.iter().zip(&kafka[6..]) {
        assert_eq!(event.key.as_ref(), Some(key));
        assert_eq!(
            event.value.as_ref().map(without_processing_time),
            (!value.is_null()).then(|| without_processing_time(value)),
        );
    }
    let ops: Vec<Option<&str>> = rest.iter().map(ChangeEvent::op).collect();
    assert_eq!(
        ops,
        [
            Some("c"),
            Some("c"),
            Some("c"),
            Some("c"),
            Some("u"),
            Some("u"),
            Some("u"),
            Some("d"),
            None
        ]
    );
    assert_eq!(rest[8].key, Some(json!({"id": 9})), "the tombstone");
    assert_eq!(second.records_acknowledged, 9);
    let end = second.offset.unwrap();
    assert_eq!(end.skip, 0, "{end:?}");
    assert!(
        end.pos > rest[8].offset().pos,
        "past the last transaction: {end:?}"
    );

    // Nothing left: a third stream ends at once.
    let mut stream = Capture::new(fx.config(&[])).exit_at_end(true).into_stream();
    assert!(next(&mut stream).await.is_none());
    assert_eq!(stream.close().await.unwrap().records_sent, 0);
    fx.drop_db().await;
}

#[tokio::test]
async fn closing_without_acknowledging_stores_nothing_and_everything_comes_again() {
    let mut fx = Fixture::new("streamnoack").await;
    let start = write_changes(&mut fx).await;
    let mut stream = Capture::new(fx.config(&[]))
        .start_at(start.clone())
        .into_stream();
    for _ in 0..3 {
        next(&mut stream).await.unwrap().unwrap();
    }
    let summary = stream.close().await.unwrap();
    assert_eq!(summary.records_acknowledged, 0);
    // At most positions before the first event are stored (the start, other databases'
    // transactions): nothing of a transaction the consumer did not acknowledge.
    assert!(
        summary.offset.as_ref().is_none_or(|o| o.skip == 0),
        "{:?}",
        summary.offset
    );

    let mut stream = Capture::new(fx.config(&[]))
        .start_at(start)
        .exit_at_end(true)
        .into_stream();
    let mut count = 0;
    while let Some(event) = next(&mut stream).await {
        let event = event.unwrap();
        count += 1;
        if count == 1 {
            assert_eq!(event.key, Some(json!({"id": 0})), "from the first again");
        }
        stream.ack(&event);
    }
    assert_eq!(count, 15);
    stream.close().await.unwrap();
    fx.drop_db().await;
}

#[tokio::test]
async fn a_run_that_cannot_start_ends_the_stream_with_its_error() {
    let fx = Fixture::new("streamerr").await;
    let mut stream = Capture::new(fx.config(&[("database.password", "wrong")])).into_stream();
    let error = next(&mut stream).await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Mysql(_)), "{error}");
    assert!(
        next(&mut stream).await.is_none(),
        "the error is the last item"
    );
    stream.close().await.unwrap();
    fx.drop_db().await;
}
