//! Transform chains, heartbeats, the dead-letter topic and schema change events against the
//! real local stack (`make up`). Run with `cargo test -p keel-capture --features integration`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use keel_capture::Capture;
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

mod common;
use common::{Fixture, ops, read_topic, read_topic_with_headers};

#[tokio::test]
async fn an_outbox_chain_routes_renames_and_stamps_events() {
    let mut fx = Fixture::new("outbox").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.outbox (id VARCHAR(36) PRIMARY KEY, aggregatetype VARCHAR(255),
               aggregateid VARCHAR(255), type VARCHAR(255), payload JSON)"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20))"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    for sql in [
        format!(
            "INSERT INTO {db}.outbox VALUES
               ('e-1', 'Order', '42', 'OrderCreated', '{{\"total\": 5}}'),
               ('e-2', 'Customer', '7', 'CustomerCreated', '{{\"name\": \"ada\"}}')"
        ),
        format!("UPDATE {db}.outbox SET type = 'X' WHERE id = 'e-1'"),
        format!("DELETE FROM {db}.outbox WHERE id = 'e-2'"),
        format!("INSERT INTO {db}.items VALUES (1, 'a')"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    let prefix = fx.prefix.clone();
    let outbox_topic = format!(r"{}\.{}\.outbox", prefix, db);
    let events = format!("{prefix}.events.$1");
    let config = fx.config(&[
        ("transforms", "outbox,route,stamp"),
        (
            "transforms.outbox.type",
            "io.debezium.transforms.outbox.EventRouter",
        ),
        ("transforms.outbox.table.expand.json.payload", "true"),
        ("transforms.outbox.predicate", "isOutbox"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", r"outbox\.event\.(.*)"),
        ("transforms.route.replacement", events.as_str()),
        (
            "transforms.stamp.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.stamp.static.field", "origin"),
        ("transforms.stamp.static.value", "keel"),
        ("predicates", "isOutbox"),
        (
            "predicates.isOutbox.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isOutbox.pattern", outbox_topic.as_str()),
    ]);
    let summary = Capture::new(config)
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(
        summary.records_sent, 3,
        "two outbox events and one item; the outbox update, delete and tombstone are dropped"
    );

    let orders = read_topic_with_headers(&format!("{prefix}.events.Order"), 1);
    assert_eq!(orders.len(), 1, "the update is dropped: {orders:?}");
    assert_eq!(orders[0].key, json!("42"));
    assert_eq!(orders[0].value, json!({"total": 5, "origin": "keel"}));
    assert_eq!(orders[0].headers.get("id"), Some(&Some("e-1".to_owned())));
    let customers = read_topic_with_headers(&format!("{prefix}.events.Customer"), 1);
    assert_eq!(customers.len(), 1, "the delete is dropped: {customers:?}");
    assert_eq!(customers[0].value, json!({"name": "ada", "origin": "keel"}));
    // Other tables keep their envelope; InsertField appends to it.
    let items = read_topic(&fx.topic("items"), 1);
    assert_eq!(ops(&items), ["c"]);
    assert_eq!(items[0].1["after"], json!({"id": 1, "name": "a"}));
    assert_eq!(items[0].1["origin"], "keel");
    fx.drop_db().await;
}

#[tokio::test]
async fn heartbeats_flow_and_move_the_offset_past_uncaptured_changes() {
    let mut fx = Fixture::new("heartbeat").await;
    let other = format!("{}_x", fx.db);
    fx.root
        .query_drop(format!("CREATE DATABASE {other}"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("CREATE TABLE {other}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let start = fx.position().await;
    for i in 0..5 {
        fx.root
            .query_drop(format!("INSERT INTO {other}.t VALUES ({i})"))
            .await
            .unwrap();
    }
    let end = fx.position().await;
    let config = fx.config(&[("heartbeat.interval.ms", "200"), ("poll.interval.ms", "50")]);
    let summary = Capture::new(config)
        .start_at(start.clone())
        .stop_after_records(3)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.records_sent, 3, "three heartbeats, nothing else");
    let stored = summary.offset.unwrap();
    assert!(
        stored.reached(&end.file, end.pos),
        "stored {stored:?} is behind the uncaptured changes ending at {end:?}"
    );
    let beats = read_topic(&format!("__debezium-heartbeat.{}", fx.prefix), 3);
    assert_eq!(beats.len(), 3, "{beats:?}");
    for (key, value) in &beats {
        assert_eq!(key, &json!({"serverName": fx.prefix}));
        assert!(value["ts_ms"].as_i64().is_some_and(|t| t > 0), "{value}");
        assert_eq!(value.as_object().map(|o| o.len()), Some(1), "{value}");
    }
    fx.root
        .query_drop(format!("DROP DATABASE {other}"))
        .await
        .unwrap();
    fx.drop_db().await;
}

#[tokio::test]
async fn an_offset_stored_after_a_binlog_rotation_keeps_the_gtid_position() {
    let mut fx = Fixture::new("rotate").await;
    let start = fx.position().await;
    fx.root.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let rotated = fx.position().await;
    assert_ne!(
        rotated.file, start.file,
        "FLUSH BINARY LOGS opened a new file"
    );
    // Nothing of this database is written: the heartbeats store the offset the rotation left.
    let config = fx.config(&[("heartbeat.interval.ms", "200"), ("poll.interval.ms", "50")]);
    let summary = Capture::new(config)
        .start_at(start)
        .stop_after_records(3)
        .run()
        .await
        .unwrap();
    let stored = summary.offset.unwrap();
    assert!(
        stored.reached(&rotated.file, 4),
        "stored {stored:?} is not in the new file {}",
        rotated.file
    );
    assert!(
        stored.gtid_position.is_some(),
        "stored {stored:?} has no GTID position: resuming by GTID would fall back to the file"
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn a_row_the_mapper_refuses_goes_to_the_dead_letter_topic() {
    let mut fx = Fixture::new("dlq").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, g VARCHAR(10) CHARACTER SET gbk NULL)"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    fx.root
        .query_drop(format!(
            "INSERT INTO {db}.t VALUES (1, NULL), (2, 'abc'), (3, NULL)"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (4, NULL)"))
        .await
        .unwrap();

    // errors.tolerance=none (default): stops, naming the table and the position.
    let err = Capture::new(fx.config(&[]))
        .start_at(start.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{db}.t")) && err.contains(&start.file) && err.contains("row 1"),
        "{err}"
    );

    let offsets = fx.dir.join("dlq.offsets.json").display().to_string();
    let config = fx.config(&[
        ("errors.tolerance", "all"),
        ("offset.storage.file.filename", offsets.as_str()),
    ]);
    Capture::new(config)
        .start_at(start.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let rows = read_topic(&fx.topic("t"), 3);
    let ids: Vec<&Json> = rows.iter().map(|(k, _)| &k["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(3), &json!(4)], "capture went on");
    let dead = read_topic_with_headers(&format!("{}.dlq", fx.prefix), 1);
    assert_eq!(dead.len(), 1, "{dead:?}");
    let h = &dead[0].headers;
    let header = |k: &str| h.get(k).cloned().flatten().unwrap_or_default();
    assert_eq!(header("keel.table"), format!("{db}.t"));
    assert_eq!(header("keel.binlog.file"), start.file);
    assert!(header("keel.binlog.pos").parse::<u64>().unwrap() >= start.pos);
    assert_eq!(header("keel.binlog.row"), "1");
    assert_eq!(header("__connect.errors.topic"), fx.topic("t"));
    assert!(
        header("__connect.errors.exception.message").contains("`g`"),
        "{h:?}"
    );
    assert_eq!(dead[0].value["row"], 1);
    fx.drop_db().await;
}

#[tokio::test]
async fn an_alter_table_mid_stream_is_a_schema_change_event() {
    let mut fx = Fixture::new("ddl").await;
    let db = fx.db.clone();
    let other = format!("{db}_x");
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let config = fx.config(&[("include.schema.changes", "true")]);
    // The first run has no schema history: it takes a schema snapshot and stores where it
    // stopped, so the second run starts there with the history.
    Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let start = fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.t VALUES (1)"),
        format!("ALTER TABLE {db}.t ADD COLUMN c INT"),
        format!("INSERT INTO {db}.t VALUES (2, 5)"),
        format!("CREATE DATABASE {other}"),
        format!("CREATE TABLE {other}.u (id INT PRIMARY KEY)"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    Capture::new(config).exit_at_end(true).run().await.unwrap();
    let changes = read_topic(&fx.prefix, 7);
    let ddl: Vec<&str> = changes
        .iter()
        .map(|(_, v)| v["ddl"].as_str().unwrap())
        .collect();
    assert_eq!(
        ddl[1..],
        [
            format!("DROP TABLE IF EXISTS `{db}`.`t`").as_str(),
            &format!("DROP DATABASE IF EXISTS `{db}`"),
            &format!("CREATE DATABASE `{db}` CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci"),
            &format!("USE `{db}`"),
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
            &format!("ALTER TABLE {db}.t ADD COLUMN c INT"),
        ],
        "the schema snapshot, then only the captured database's DDL"
    );
    assert!(ddl[0].starts_with("SET character_set_server="), "{ddl:?}");
    assert_eq!(changes[6].1["source"]["snapshot"], "false");
    assert_eq!(changes[5].1["source"]["snapshot"], "last");
    let (key, value) = &changes[6];
    assert_eq!(key, &json!({"databaseName": db}));
    assert_eq!(value["databaseName"], db.as_str());
    assert_eq!(value["schemaName"], Json::Null);
    let change = &value["tableChanges"][0];
    assert_eq!(change["type"], "ALTER");
    assert_eq!(change["id"], format!("\"{db}\".\"t\""));
    let columns: Vec<(&str, &str, bool)> = change["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["typeName"].as_str().unwrap(),
                c["optional"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(columns, [("id", "INT", false), ("c", "INT", true)]);
    assert_eq!(change["table"]["primaryKeyColumnNames"], json!(["id"]));
    assert!(value["ts_ms"].as_i64().is_some());
    assert_eq!(value["source"]["db"], db.as_str());
    assert_eq!(value["source"]["table"], "t");
    assert_eq!(value["source"]["file"], start.file.as_str());
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "databaseName",
            "ddl",
            "schemaName",
            "source",
            "tableChanges",
            "ts_ms"
        ],
        "the fields of Debezium's schema change value, no more"
    );
    let rows = read_topic(&fx.topic("t"), 2);
    assert_eq!(rows[1].1["after"], json!({"id": 2, "c": 5}));
    fx.root
        .query_drop(format!("DROP DATABASE {other}"))
        .await
        .unwrap();
    fx.drop_db().await;
}
