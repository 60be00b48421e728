//! What every dead-letter destination must do, run against each backend.

use chrono::{DateTime, Utc};
use keel_core::Position;
use keel_projections::dead_letter::{DeadLetter, DeadLetterStage, DeadLetterStore};
use serde_json::json;

fn at_micros() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

pub fn letter(projection: &str, stage: DeadLetterStage, seq: u64) -> DeadLetter {
    DeadLetter {
        projection: projection.to_owned(),
        stage,
        event_id: uuid::Uuid::new_v4(),
        event_type: "OrderPlaced".into(),
        schema_version: 2,
        stream_id: format!("order-{seq}"),
        stream_version: 3,
        position: Position { commit: 7, seq },
        payload: json!({"customer": 5, "lines": [1, 2]}),
        reason: format!("invalid type: integer `5`, expected a string ({seq})"),
        at: at_micros(),
    }
}

/// Letters read back equal what was put, oldest first, once each, per projection. Returns the
/// projection holding five letters.
pub async fn keeps_letters_once_with_every_field(store: impl DeadLetterStore) -> String {
    let projection = crate::common::unique("orders", '-');
    let other = crate::common::unique("customers", '-');
    let decode = letter(&projection, DeadLetterStage::Decode, 1);
    let rejected = letter(
        &projection,
        DeadLetterStage::Sink {
            sink: "redis".into(),
            key: "order-2".into(),
        },
        2,
    );
    let elsewhere = letter(&other, DeadLetterStage::Decode, 3);
    let not_an_event = DeadLetter {
        event_id: uuid::Uuid::nil(),
        ..letter(
            &projection,
            DeadLetterStage::Source {
                origin: "events/0/41".into(),
            },
            4,
        )
    };
    let next_record = DeadLetter {
        event_id: uuid::Uuid::nil(),
        ..letter(
            &projection,
            DeadLetterStage::Source {
                origin: "events/0/42".into(),
            },
            5,
        )
    };
    store
        .put(&[decode.clone(), rejected.clone(), elsewhere.clone()])
        .await
        .expect("put");
    // A batch handled again after a crash puts the same letters again.
    store
        .put(&[decode.clone(), rejected.clone()])
        .await
        .expect("put again");
    // The same event refused by another sink is another record.
    let by_es = DeadLetter {
        stage: DeadLetterStage::Sink {
            sink: "elasticsearch".into(),
            key: "order-2".into(),
        },
        ..rejected.clone()
    };
    store.put(std::slice::from_ref(&by_es)).await.expect("put");
    store
        .put(&[
            not_an_event.clone(),
            next_record.clone(),
            not_an_event.clone(),
        ])
        .await
        .expect("put");

    assert_eq!(
        store.list(&projection).await.expect("list"),
        vec![decode, rejected, by_es, not_an_event, next_record]
    );
    assert_eq!(store.list(&other).await.expect("list"), vec![elsewhere]);
    projection
}
