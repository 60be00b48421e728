//! Capture against the real local stack (`make up`): MariaDB binlog to Kafka, compared with
//! what the database holds. Run with `cargo test -p keel-capture --features integration`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use keel_capture::offsets::{Offset, ResumeBy};
use keel_capture::{Capture, Error, preflight};
use keel_core::testing::stack;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use serde_json::{Value as Json, json};

mod common;
use common::{Fixture, fold, ops, read_topic};

#[tokio::test]
async fn preflight_passes_for_the_cdc_user_and_lists_missing_grants() {
    stack::mariadb().require();
    let mut root = Conn::new(Opts::from_url(&stack::mariadb_root().require().url).unwrap())
        .await
        .unwrap();
    let mut keel = Conn::new(Opts::from_url(&stack::mariadb().url).unwrap())
        .await
        .unwrap();
    preflight::run(&mut keel).await.unwrap();

    let user = format!(
        "keel_pf_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    root.query_drop(format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "GRANT REPLICATION SLAVE, SELECT ON *.* TO '{user}'@'127.0.0.1'"
    ))
    .await
    .unwrap();
    let url = format!("mysql://{user}:pw@127.0.0.1:3306");
    let mut weak = Conn::new(Opts::from_url(&url).unwrap()).await.unwrap();
    let result = preflight::run(&mut weak).await;
    root.query_drop(format!("DROP USER '{user}'@'127.0.0.1'"))
        .await
        .unwrap();
    let err = result.unwrap_err();
    match &err {
        Error::MissingGrants { missing, .. } => {
            assert_eq!(missing, &["RELOAD", "SHOW DATABASES", "BINLOG MONITOR"]);
        }
        other => panic!("expected missing grants, got {other}"),
    }
    assert!(err.to_string().contains(&user), "{err}");
}

#[tokio::test]
async fn column_types_map_as_debezium_does() {
    let mut fx = Fixture::new("types").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (
               id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT,
               mi MEDIUMINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, y YEAR, iu INT UNSIGNED,
               de DECIMAL(10,2), fl FLOAT, db DOUBLE, d DATE, tm TIME(3), dt DATETIME,
               dt6 DATETIME(6), ts TIMESTAMP(3) NULL, c CHAR(5), vc VARCHAR(20),
               l1 VARCHAR(10) CHARACTER SET latin1, tx TEXT, bn BINARY(3), vb VARBINARY(8),
               bl BLOB, e ENUM('small','large'), s SET('a','b','c'), b1 BIT(1), b16 BIT(16),
               j JSON, n INT NULL)"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    fx.root
        .query_drop(format!(
            "INSERT INTO {db}.t VALUES (1, -5, 250, -300, 16777215, -9000000000,
               18446744073709551615, 2024, 4294967295, 12.50, 1.5, 2.25, '2024-03-01',
               '01:02:03.500', '2018-06-20 06:37:03', '2018-06-20 06:37:03.123456',
               '2018-06-20 13:37:03.120', 'ab', 'grüße', 'grüße', 'text', x'010203', x'ff00',
               x'00', 'large', 'a,c', b'1', b'0000000100000010', '{{\"a\": 1}}', NULL)"
        ))
        .await
        .unwrap();
    let summary = Capture::new(fx.config(&[]))
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.records_sent, 1);
    let records = read_topic(&fx.topic("t"), 1);
    assert_eq!(records.len(), 1, "{records:?}");
    let (key, value) = &records[0];
    assert_eq!(key, &json!({"id": 1}));
    assert_eq!(value["op"], "c");
    assert_eq!(value["before"], Json::Null);
    assert_eq!(
        value["after"],
        json!({
            "id": 1, "ti": -5, "tu": 250, "si": -300, "mi": 16777215, "bi": -9000000000i64,
            "bu": -1, "y": 2024, "iu": 4294967295u64, "de": "BOI=", "fl": 1.5, "db": 2.25,
            "d": 19783, "tm": 3723500000i64, "dt": 1529476623000i64, "dt6": 1529476623123456i64,
            "ts": "2018-06-20T13:37:03.120Z", "c": "ab", "vc": "grüße", "l1": "grüße",
            "tx": "text", "bn": "AQID", "vb": "/wA=", "bl": "AA==", "e": "large", "s": "a,c",
            "b1": true, "b16": "AgE=", "j": "{\"a\": 1}", "n": null
        })
    );
    let source = &value["source"];
    assert_eq!(source["connector"], "mariadb");
    assert_eq!(source["name"], fx.prefix.as_str());
    assert_eq!(
        (source["db"].as_str(), source["table"].as_str()),
        (Some(db.as_str()), Some("t"))
    );
    assert_eq!(source["snapshot"], "false");
    assert!(
        source["gtid"]
            .as_str()
            .is_some_and(|g| g.starts_with("0-1-")),
        "{source}"
    );
    assert!(source["file"].as_str().is_some() && source["pos"].as_u64().unwrap() > 4);
    assert_eq!(source["row"], 0);
    fx.drop_db().await;
}

#[tokio::test]
async fn inserts_updates_deletes_and_a_key_change_match_the_table() {
    let mut fx = Fixture::new("dml").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20), qty INT)"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.items VALUES (1,'a',1),(2,'b',2),(3,'c',3)"),
        format!("UPDATE {db}.items SET qty = qty + 10 WHERE id IN (1, 2)"),
        format!("DELETE FROM {db}.items WHERE id = 3"),
        format!("UPDATE {db}.items SET id = 20 WHERE id = 2"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    Capture::new(fx.config(&[]))
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    // 3 creates, 2 updates, delete + tombstone, key change = delete + tombstone + create.
    let records = read_topic(&fx.topic("items"), 10);
    assert_eq!(
        ops(&records),
        [
            "c",
            "c",
            "c",
            "u",
            "u",
            "d",
            "tombstone",
            "d",
            "tombstone",
            "c"
        ]
    );
    assert_eq!(
        records[3].1["before"],
        json!({"id": 1, "name": "a", "qty": 1})
    );
    assert_eq!(
        records[3].1["after"],
        json!({"id": 1, "name": "a", "qty": 11})
    );
    assert_eq!(
        records[6].0,
        json!({"id": 3}),
        "the tombstone carries the deleted key"
    );
    assert_eq!(records[7].0, json!({"id": 2}));
    assert_eq!(records[9].0, json!({"id": 20}));

    let rows: Vec<(i32, String, i32)> = fx
        .root
        .query(format!("SELECT id, name, qty FROM {db}.items ORDER BY id"))
        .await
        .unwrap();
    let expected: BTreeMap<String, Json> = rows
        .into_iter()
        .map(|(id, name, qty)| {
            (
                json!({"id": id}).to_string(),
                json!({"id": id, "name": name, "qty": qty}),
            )
        })
        .collect();
    assert_eq!(fold(&records), expected);
    fx.drop_db().await;
}

#[tokio::test]
async fn without_tombstones_and_with_schemas() {
    let mut fx = Fixture::new("schemas").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v DECIMAL(5,1))"
        ))
        .await
        .unwrap();
    let start = fx.position().await;
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1, 2.5)"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("DELETE FROM {db}.t"))
        .await
        .unwrap();
    let config = fx.config(&[
        ("tombstones.on.delete", "false"),
        ("key.converter.schemas.enable", "true"),
        ("value.converter.schemas.enable", "true"),
        ("decimal.handling.mode", "string"),
    ]);
    Capture::new(config)
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let records = read_topic(&fx.topic("t"), 2);
    assert_eq!(records.len(), 2, "no tombstone: {records:?}");
    let (key, value) = &records[0];
    assert_eq!(key["payload"], json!({"id": 1}));
    assert_eq!(key["schema"]["name"], format!("{}.{db}.t.Key", fx.prefix));
    assert_eq!(value["payload"]["after"], json!({"id": 1, "v": "2.5"}));
    assert_eq!(
        value["schema"]["name"],
        format!("{}.{db}.t.Envelope", fx.prefix)
    );
    assert_eq!(records[1].1["payload"]["op"], "d");
    fx.drop_db().await;
}

#[tokio::test]
async fn a_restart_mid_transaction_resumes_without_loss_or_duplicates() {
    restart_mid_transaction("restart", ResumeBy::Position).await;
}

#[tokio::test]
async fn a_restart_mid_transaction_resumes_by_gtid() {
    restart_mid_transaction("gtid", ResumeBy::Gtid).await;
}

async fn restart_mid_transaction(tag: &str, by: ResumeBy) {
    let mut fx = Fixture::new(tag).await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"))
        .await
        .unwrap();
    let start = fx.position().await;
    let mut tx = fx.root.start_transaction(Default::default()).await.unwrap();
    for i in 0..10 {
        tx.exec_drop(format!("INSERT INTO {db}.t VALUES (?, ?)"), (i, i))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    fx.root
        .query_drop(format!("UPDATE {db}.t SET v = v + 100 WHERE id < 3"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("DELETE FROM {db}.t WHERE id = 9"))
        .await
        .unwrap();

    // First run stops after 4 records, inside the 10-row transaction.
    let first = Capture::new(fx.config(&[]))
        .resume_by(by)
        .start_at(start.clone())
        .stop_after_records(4)
        .run()
        .await
        .unwrap();
    assert_eq!(first.records_acknowledged, 4);
    let stored = first.offset.unwrap();
    assert_eq!(stored.skip, 4, "{stored:?}");
    assert!(
        stored.gtid.is_some() && stored.gtid_position.is_some(),
        "{stored:?}"
    );
    if by == ResumeBy::Gtid {
        // By GTID the server ignores file and position: spoil them to prove it.
        let path = fx.dir.join("offsets.json");
        let mut spoiled = stored.clone();
        spoiled.file = "gone-bin.000001".into();
        spoiled.pos = 4;
        std::fs::write(&path, serde_json::to_vec(&spoiled).unwrap()).unwrap();
    }
    // The second run resumes from the offsets file (start_at is ignored once it exists).
    let second = Capture::new(fx.config(&[]))
        .resume_by(by)
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(second.records_sent, 6 + 3 + 2);
    let records = read_topic(&fx.topic("t"), 15);
    assert_eq!(records.len(), 15, "{:?}", ops(&records));
    let ids: Vec<i64> = records[..10]
        .iter()
        .map(|(k, _)| k["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    let rows: Vec<(i32, i32)> = fx
        .root
        .query(format!("SELECT id, v FROM {db}.t"))
        .await
        .unwrap();
    let expected: BTreeMap<String, Json> = rows
        .into_iter()
        .map(|(id, v)| (json!({"id": id}).to_string(), json!({"id": id, "v": v})))
        .collect();
    assert_eq!(fold(&records), expected);

    // A third run has nothing left to do.
    let third = Capture::new(fx.config(&[]))
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(third.records_sent, 0);
    fx.drop_db().await;
}

#[tokio::test]
async fn the_binary_runs_a_connector_json_to_the_end() {
    let mut fx = Fixture::new("bin").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let start = fx.position().await;
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1), (2)"))
        .await
        .unwrap();
    // The binary has no start option: seed the offsets file as a previous run would have.
    let offsets = fx.dir.join("offsets.json");
    std::fs::write(&offsets, serde_json::to_vec(&start).unwrap()).unwrap();
    let connector = json!({
        "name": "it-bin",
        "config": {
            "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
            "database.hostname": "127.0.0.1",
            "database.user": "keel",
            "database.password": "keel",
            "database.server.id": "5123",
            "topic.prefix": fx.prefix,
            "database.include.list": db,
            "bootstrap.servers": stack::kafka().url,
            "offset.storage.file.filename": offsets.display().to_string(),
            "include.schema.changes": "false",
            "some.unknown.key": "x"
        }
    });
    let path = fx.dir.join("connector.json");
    std::fs::write(&path, connector.to_string()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_keel-capture"))
        .args(["run", "--config", path.to_str().unwrap(), "--exit-at-end"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("some.unknown.key"), "{stderr}");
    assert_eq!(ops(&read_topic(&fx.topic("t"), 2)), ["c", "c"]);
    fx.drop_db().await;
}

#[tokio::test]
async fn a_killed_binlog_connection_is_resumed_without_loss_or_duplicates() {
    let mut fx = Fixture::new("reconnect").await;
    let db = fx.db.clone();
    // A user of our own, so we kill only our dump thread.
    let user = format!(
        "keel_rc_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    fx.root
        .query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!(
            "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '{user}'@'127.0.0.1'"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let start = fx.position().await;
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1), (2), (3)"))
        .await
        .unwrap();
    let config = fx.config(&[
        ("database.user", user.as_str()),
        ("database.password", "pw"),
    ]);
    let run = tokio::spawn(
        Capture::new(config)
            .start_at(start)
            .stop_after_records(6)
            .run(),
    );

    let find_dump = format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}' AND COMMAND = 'Binlog Dump'"
    );
    let mut dump: Option<u64> = None;
    for _ in 0..100 {
        dump = fx.root.query_first(&find_dump).await.unwrap();
        if dump.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dump = dump.expect("capture opened a binlog dump");
    tokio::time::sleep(Duration::from_millis(500)).await;
    fx.root
        .query_drop(format!("KILL CONNECTION {dump}"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (4), (5), (6)"))
        .await
        .unwrap();

    let summary = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("capture finished")
        .unwrap()
        .unwrap();
    assert_eq!(summary.records_acknowledged, 6);
    fx.root
        .query_drop(format!("DROP USER '{user}'@'127.0.0.1'"))
        .await
        .unwrap();
    let records = read_topic(&fx.topic("t"), 6);
    let ids: Vec<i64> = records
        .iter()
        .map(|(k, _)| k["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    fx.drop_db().await;
}

#[tokio::test]
async fn rows_after_ddl_mid_stream_use_the_new_columns() {
    let mut fx = Fixture::new("ddl").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, a INT)"))
        .await
        .unwrap();
    let start = fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.t VALUES (1, 1)"),
        format!("ALTER TABLE {db}.t ADD COLUMN b VARCHAR(10) DEFAULT 'x', DROP COLUMN a"),
        format!("INSERT INTO {db}.t VALUES (2, 'y')"),
        format!("ALTER TABLE {db}.t CHANGE COLUMN b c VARCHAR(10)"),
        format!("UPDATE {db}.t SET c = 'z' WHERE id = 2"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    Capture::new(fx.config(&[]))
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let records = read_topic(&fx.topic("t"), 3);
    let afters: Vec<Json> = records.iter().map(|(_, v)| v["after"].clone()).collect();
    assert_eq!(
        afters,
        [
            json!({"id": 1, "a": 1}),
            json!({"id": 2, "b": "y"}),
            json!({"id": 2, "c": "z"})
        ]
    );
    assert_eq!(records[2].1["before"], json!({"id": 2, "c": "y"}));
    fx.drop_db().await;
}

#[tokio::test]
async fn a_position_the_server_no_longer_has_is_a_clear_error() {
    let fx = Fixture::new("purged").await;
    let config = fx.config(&[]);
    let err = Capture::new(config)
        .start_at(Offset::at("binlog.999999", 4))
        .exit_at_end(false)
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PositionUnavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("binlog.999999:4") && text.contains("purged"),
        "{text}"
    );
    assert!(text.contains("offsets.json"), "{text}");
    fx.drop_db().await;
}

#[tokio::test]
async fn transaction_metadata_brackets_each_transaction() {
    let mut fx = Fixture::new("txmeta").await;
    let db = fx.db.clone();
    for t in ["a", "b"] {
        fx.root
            .query_drop(format!("CREATE TABLE {db}.{t} (id INT PRIMARY KEY)"))
            .await
            .unwrap();
    }
    let start = fx.position().await;
    let mut tx = fx.root.start_transaction(Default::default()).await.unwrap();
    tx.query_drop(format!("INSERT INTO {db}.a VALUES (1), (2)"))
        .await
        .unwrap();
    tx.query_drop(format!("INSERT INTO {db}.b VALUES (1)"))
        .await
        .unwrap();
    tx.query_drop(format!("DELETE FROM {db}.a WHERE id = 1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let config = fx.config(&[
        ("provide.transaction.metadata", "true"),
        ("topic.transaction", "tx"),
    ]);
    Capture::new(config)
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();

    let a = read_topic(&fx.topic("a"), 4);
    assert_eq!(ops(&a), ["c", "c", "d", "tombstone"]);
    let b = read_topic(&fx.topic("b"), 1);
    let id = a[0].1["transaction"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("0-1-"), "{id}");
    let orders: Vec<(u64, u64)> = a[..3]
        .iter()
        .chain(&b)
        .map(|(_, v)| {
            let t = &v["transaction"];
            (
                t["total_order"].as_u64().unwrap(),
                t["data_collection_order"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(orders, [(1, 1), (2, 2), (4, 3), (3, 1)]);

    let txs = read_topic(&format!("{}.tx", fx.prefix), 2);
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert_eq!(txs[0].0, json!({"id": id}));
    assert_eq!(txs[0].1["status"], "BEGIN");
    assert_eq!(txs[0].1["event_count"], Json::Null);
    assert_eq!(txs[1].1["status"], "END");
    assert_eq!(txs[1].1["event_count"], 4);
    // The order of `data_collections` is Debezium's (Java HashMap order of the names, checked
    // against Debezium itself in tests/debezium.rs); here only the counts per table matter.
    let mut collections = txs[1].1["data_collections"].as_array().unwrap().clone();
    collections.sort_by_key(|c| c["data_collection"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        Json::Array(collections),
        json!([
            {"data_collection": format!("{db}.a"), "event_count": 3},
            {"data_collection": format!("{db}.b"), "event_count": 1}
        ])
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn extract_new_record_state_unwraps_rows() {
    let mut fx = Fixture::new("unwrap").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"))
        .await
        .unwrap();
    let start = fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.t VALUES (1, 10)"),
        format!("UPDATE {db}.t SET v = 11"),
        format!("DELETE FROM {db}.t"),
    ] {
        fx.root.query_drop(sql).await.unwrap();
    }
    let config = fx.config(&[
        ("transforms", "unwrap"),
        (
            "transforms.unwrap.type",
            "io.debezium.transforms.ExtractNewRecordState",
        ),
        (
            "transforms.unwrap.delete.tombstone.handling.mode",
            "rewrite",
        ),
        ("transforms.unwrap.add.fields", "op,source.table"),
    ]);
    Capture::new(config)
        .start_at(start)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let records = read_topic(&fx.topic("t"), 3);
    let values: Vec<Json> = records.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(
        values,
        [
            json!({"id": 1, "v": 10, "__op": "c", "__source_table": "t", "__deleted": "false"}),
            json!({"id": 1, "v": 11, "__op": "u", "__source_table": "t", "__deleted": "false"}),
            json!({"id": 1, "v": 11, "__op": "d", "__source_table": "t", "__deleted": "true"}),
        ],
        "rewrite drops the tombstone"
    );
    fx.drop_db().await;
}
