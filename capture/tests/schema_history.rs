//! The persisted schema history against the real stack: a restart after an ALTER resumes with
//! the history read back (from the file and from a Kafka topic), rows before and after each
//! ADD/RENAME/MODIFY/DROP COLUMN decode with their columns, `tableChanges` describe the table
//! after each statement, and DDL the parser cannot apply does not stop capture. Run with
//! `cargo test -p keel-capture --features integration --test schema_history`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use keel_capture::Capture;
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

mod common;
use common::{Fixture, read_topic};

/// The schema change events after the schema snapshot: (ddl, columns as `name typeName`).
fn ddl_changes(records: &[(Json, Json)]) -> Vec<(String, Vec<String>)> {
    records
        .iter()
        .filter(|(_, v)| v["source"]["snapshot"] == "false")
        .map(|(_, v)| {
            let columns = v["tableChanges"][0]["table"]["columns"]
                .as_array()
                .map(|cols| {
                    cols.iter()
                        .map(|c| {
                            format!(
                                "{} {}",
                                c["name"].as_str().unwrap(),
                                c["typeName"].as_str().unwrap()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (v["ddl"].as_str().unwrap().to_owned(), columns)
        })
        .collect()
}

async fn restart_after_alter(tag: &str, history: &[(&str, &str)]) {
    let mut fx = Fixture::new(tag).await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10) DEFAULT 'x')"
        ))
        .await
        .unwrap();
    let mut props = vec![("include.schema.changes", "true")];
    props.extend_from_slice(history);
    let config = fx.config(&props);

    // 1. No history yet: a schema snapshot, and the offset where it was taken.
    let first = Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(
        first.records_sent, 6,
        "SET, DROP TABLE, DROP/CREATE DATABASE, USE, CREATE TABLE"
    );

    for sql in [
        format!("INSERT INTO {db}.t VALUES (1, 'p')"),
        format!("ALTER TABLE {db}.t ADD COLUMN b INT NOT NULL DEFAULT 7"),
        format!("INSERT INTO {db}.t VALUES (2, 'q', 8)"),
        format!("ALTER TABLE {db}.t RENAME COLUMN a TO a2"),
        format!("INSERT INTO {db}.t VALUES (3, 'r', 9)"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    // 2. Stops right after the first ALTER's schema change event: the ALTER is in the
    // history, the offset just past it.
    let second = Capture::new(config.clone())
        .exit_at_end(true)
        .stop_after_records(2)
        .run()
        .await
        .unwrap();
    assert_eq!(second.records_acknowledged, 2);

    // 3. Restarts: the history read back knows `b`, so the RENAME's table has it.
    Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    for sql in [
        format!("ALTER TABLE {db}.t MODIFY b BIGINT UNSIGNED"),
        format!("ALTER TABLE {db}.t DROP COLUMN a2"),
        format!("INSERT INTO {db}.t VALUES (4, 10)"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    // 4. Another restart after more DDL.
    Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();

    let rows: Vec<Json> = read_topic(&fx.topic("t"), 4)
        .into_iter()
        .map(|(_, v)| v["after"].clone())
        .collect();
    assert_eq!(
        rows,
        [
            json!({"id": 1, "a": "p"}),
            json!({"id": 2, "a": "q", "b": 8}),
            json!({"id": 3, "a2": "r", "b": 9}),
            json!({"id": 4, "b": 10}),
        ],
        "each row with the columns of its position"
    );
    let changes = read_topic(&fx.prefix, 10);
    assert_eq!(
        ddl_changes(&changes),
        [
            (
                format!("ALTER TABLE {db}.t ADD COLUMN b INT NOT NULL DEFAULT 7"),
                vec!["id INT".to_owned(), "a VARCHAR".into(), "b INT".into()]
            ),
            (
                format!("ALTER TABLE {db}.t RENAME COLUMN a TO a2"),
                vec!["id INT".to_owned(), "a2 VARCHAR".into(), "b INT".into()]
            ),
            (
                format!("ALTER TABLE {db}.t MODIFY b BIGINT UNSIGNED"),
                vec![
                    "id INT".to_owned(),
                    "a2 VARCHAR".into(),
                    "b BIGINT UNSIGNED".into()
                ]
            ),
            (
                format!("ALTER TABLE {db}.t DROP COLUMN a2"),
                vec!["id INT".to_owned(), "b BIGINT UNSIGNED".into()]
            ),
        ],
        "tableChanges follow the history across the restarts, each statement once"
    );
    let added = &changes
        .iter()
        .find(|(_, v)| v["ddl"].as_str().unwrap().contains("ADD COLUMN b"))
        .unwrap()
        .1["tableChanges"][0]["table"]["columns"];
    assert_eq!(added[1]["defaultValueExpression"], "x");
    assert_eq!(added[2]["defaultValueExpression"], "7");
    assert_eq!(added[2]["optional"], false);
    fx.drop_db().await;
}

#[tokio::test]
async fn a_restart_after_an_alter_resumes_with_the_history_file() {
    restart_after_alter("histfile", &[]).await;
}

#[tokio::test]
async fn a_restart_after_an_alter_resumes_with_the_history_topic() {
    let topic = format!("keel-it-history-{}", uuid::Uuid::new_v4().simple());
    restart_after_alter(
        "histkafka",
        &[("schema.history.internal.kafka.topic", topic.as_str())],
    )
    .await;
    // Debezium's record shape, one per statement, none stored twice.
    let records = read_topic(&topic, 10);
    let ddl: Vec<&str> = records
        .iter()
        .map(|(_, v)| v["ddl"].as_str().unwrap())
        .collect();
    assert_eq!(records.len(), 10, "{ddl:?}");
    let alter = &records[6].1;
    assert!(alter["source"]["server"].is_string());
    assert!(alter["position"]["file"].is_string() && alter["position"]["pos"].is_u64());
    assert_eq!(alter["tableChanges"][0]["type"], "ALTER");
    assert_eq!(
        alter["tableChanges"][0]["table"]["columns"][2]["hasDefaultValue"],
        true
    );
    assert_eq!(records[0].1["position"]["snapshot"], "INITIAL");
}

#[tokio::test]
async fn ddl_the_parser_cannot_apply_is_read_from_the_server() {
    let mut fx = Fixture::new("histfallback").await;
    let db = fx.db.clone();
    let other = format!("{db}_src");
    for sql in [
        format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"),
        format!("CREATE DATABASE {other}"),
        format!("CREATE TABLE {other}.src (id INT PRIMARY KEY, v VARCHAR(5))"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    let config = fx.config(&[("include.schema.changes", "true")]);
    Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    for sql in [
        // Our parser does not read REF_SYSTEM_ID (SHOW CREATE TABLE leaves it out).
        format!("ALTER TABLE {db}.t ADD COLUMN g GEOMETRY REF_SYSTEM_ID=4326"),
        format!("INSERT INTO {db}.t VALUES (1, NULL)"),
        // The table copied is not captured: the model does not know it.
        format!("CREATE TABLE {db}.copy LIKE {other}.src"),
        format!("INSERT INTO {db}.copy VALUES (1, 'v')"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    Capture::new(config).exit_at_end(true).run().await.unwrap();
    let changes = ddl_changes(&read_topic(&fx.prefix, 8));
    assert_eq!(
        changes[0],
        (
            format!("ALTER TABLE {db}.t ADD COLUMN g GEOMETRY REF_SYSTEM_ID=4326"),
            vec!["id INT".to_owned(), "g GEOMETRY".into()]
        )
    );
    assert_eq!(
        changes[1],
        (
            format!("CREATE TABLE {db}.copy LIKE {other}.src"),
            vec!["id INT".to_owned(), "v VARCHAR".into()]
        )
    );
    let rows = read_topic(&fx.topic("t"), 1);
    assert_eq!(rows[0].1["after"], json!({"id": 1, "g": null}));
    let rows = read_topic(&fx.topic("copy"), 1);
    assert_eq!(rows[0].1["after"], json!({"id": 1, "v": "v"}));
    fx.root
        .query_drop(format!("DROP DATABASE {other}"))
        .await
        .unwrap();
    fx.drop_db().await;
}
