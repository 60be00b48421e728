//! The initial snapshot against the real local stack (`make up`): consistent cut, markers,
//! chunks, resume, modes, and the same mapping as streaming. Run with
//! `cargo test -p keel-capture --features integration`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use keel_capture::Capture;
use keel_capture::offsets::Offset;
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

mod common;
use common::{Fixture, read_topic};

fn snapshot_of(records: &[(Json, Json)]) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|(k, v)| {
            assert_eq!(v["op"], "r", "{v}");
            assert_eq!(v["before"], Json::Null, "{v}");
            (
                k["id"].as_i64().unwrap(),
                v["source"]["snapshot"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn wait_for<T>(path: &std::path::Path, run: &tokio::task::JoinHandle<T>) {
    for _ in 0..1500 {
        if path.exists() || run.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn an_initial_snapshot_marks_rows_then_streams_from_the_cut_without_gap_or_duplicate() {
    let mut fx = Fixture::new("snapinit").await;
    let db = fx.db.clone();
    for (table, rows) in [("a", "(1),(2),(3)"), ("b", "(1)"), ("c", "(1),(2)")] {
        fx.root
            .query_drop(format!(
                "CREATE TABLE {db}.{table} (id INT PRIMARY KEY, v INT DEFAULT 0)"
            ))
            .await
            .unwrap();
        fx.root
            .query_drop(format!("INSERT INTO {db}.{table} (id) VALUES {rows}"))
            .await
            .unwrap();
    }
    let config = fx.config(&[
        ("snapshot.mode", "initial"),
        ("snapshot.fetch.size", "2"),
        ("poll.interval.ms", "1"),
    ]);
    // 6 snapshot rows, then 3 inserts and 1 update streamed; the run stops after them.
    let run = tokio::spawn(
        Capture::new(config)
            .show_progress(false)
            .stop_after_records(6 + 4)
            .run(),
    );
    // The offsets file is written once the cut is taken: what follows is after the cut.
    wait_for(&fx.dir.join("offsets.json"), &run).await;
    fx.root
        .query_drop(format!("INSERT INTO {db}.a (id) VALUES (10),(11),(12)"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("UPDATE {db}.c SET v = 5 WHERE id = 2"))
        .await
        .unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("capture did not stop after 10 records")
        .unwrap()
        .unwrap();
    assert_eq!(summary.records_sent, 10);

    let a = read_topic(&fx.topic("a"), 6);
    assert_eq!(
        snapshot_of(&a[..3]),
        [
            (1, "first".to_owned()),
            (2, "true".to_owned()),
            (3, "last_in_data_collection".to_owned())
        ]
    );
    let streamed: Vec<(i64, &str)> = a[3..]
        .iter()
        .map(|(k, v)| (k["id"].as_i64().unwrap(), v["op"].as_str().unwrap()))
        .collect();
    assert_eq!(streamed, [(10, "c"), (11, "c"), (12, "c")], "{a:?}");
    let b = read_topic(&fx.topic("b"), 1);
    assert_eq!(snapshot_of(&b), [(1, "last_in_data_collection".to_owned())]);
    let c = read_topic(&fx.topic("c"), 3);
    assert_eq!(
        snapshot_of(&c[..2]),
        [
            (1, "first_in_data_collection".to_owned()),
            (2, "last".to_owned())
        ]
    );
    assert_eq!(c[2].1["op"], "u");
    assert_eq!(c[2].1["after"], json!({"id": 2, "v": 5}));

    // Every snapshot row carries the cut; streaming starts exactly there.
    let source = &a[0].1["source"];
    let (file, pos) = (source["file"].clone(), source["pos"].as_u64().unwrap());
    for (_, v) in a[..3].iter().chain(&b).chain(&c[..2]) {
        assert_eq!(
            (&v["source"]["file"], v["source"]["pos"].as_u64()),
            (&file, Some(pos))
        );
        assert_eq!(v["source"]["connector"], "mariadb");
        assert_eq!(v["transaction"], Json::Null);
    }
    assert!(
        source["gtid"].as_str().is_some_and(|g| g.contains("0-1-")),
        "{source}"
    );
    let first_c = &a[3].1["source"];
    assert_eq!(first_c["snapshot"], "false");
    assert!(
        first_c["file"] != file || first_c["pos"].as_u64().unwrap() >= pos,
        "streamed before the cut: {first_c} vs {file}:{pos}"
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn initial_only_snapshots_then_stops_and_does_not_stream_later() {
    let mut fx = Fixture::new("snaponly").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1), (2)"))
        .await
        .unwrap();
    let config = fx.config(&[("snapshot.mode", "initial_only")]);
    let first = Capture::new(config.clone())
        .show_progress(false)
        .run()
        .await
        .unwrap();
    assert_eq!(first.records_sent, 2);
    let stored = first.offset.unwrap();
    assert!(stored.snapshot.is_none(), "{stored:?}");
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (3)"))
        .await
        .unwrap();
    let second = Capture::new(config)
        .show_progress(false)
        .run()
        .await
        .unwrap();
    assert_eq!(second.records_sent, 0);
    let records = read_topic(&fx.topic("t"), 2);
    assert_eq!(
        snapshot_of(&records),
        [(1, "first".to_owned()), (2, "last".to_owned())]
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn a_table_larger_than_a_chunk_is_read_in_key_order_and_one_without_a_key_in_one_pass() {
    let mut fx = Fixture::new("snapchunk").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.k (g VARCHAR(5) CHARACTER SET latin1, id INT, \
             PRIMARY KEY (g, id))"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.nokey (id INT, v VARCHAR(3))"))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for g in ["b", "Ä", "a"] {
        for id in 0..9 {
            fx.root
                .exec_drop(format!("INSERT INTO {db}.k VALUES (?, ?)"), (g, id))
                .await
                .unwrap();
            expected.push((g.to_owned(), id));
        }
    }
    // Key order is the server's (latin1_swedish_ci), not byte order.
    let sorted: Vec<(String, i64)> = fx
        .root
        .query(format!("SELECT g, id FROM {db}.k ORDER BY g, id"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!(
            "INSERT INTO {db}.nokey VALUES (1,'x'),(2,'y'),(2,'y'),(3,NULL),(4,'z')"
        ))
        .await
        .unwrap();
    let summary = Capture::new(fx.config(&[
        ("snapshot.mode", "initial_only"),
        ("snapshot.fetch.size", "4"),
    ]))
    .show_progress(false)
    .run()
    .await
    .unwrap();
    assert_eq!(summary.records_sent, 27 + 5);
    let k = read_topic(&fx.topic("k"), 27);
    let got: Vec<(String, i64)> = k
        .iter()
        .map(|(key, v)| {
            assert_eq!(v["op"], "r");
            (
                key["g"].as_str().unwrap().to_owned(),
                key["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, sorted);
    assert_eq!(got.len(), expected.len());
    let nokey = read_topic(&fx.topic("nokey"), 5);
    assert_eq!(nokey.len(), 5);
    assert!(nokey.iter().all(|(key, _)| key.is_null()));
    let markers: Vec<&str> = nokey
        .iter()
        .map(|(_, v)| v["source"]["snapshot"].as_str().unwrap())
        .collect();
    assert_eq!(
        markers,
        ["first_in_data_collection", "true", "true", "true", "last"]
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn an_interrupted_snapshot_resumes_at_its_last_chunk_then_streams_from_the_first_cut() {
    let mut fx = Fixture::new("snapresume").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"))
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, 0)")).collect();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    let config = fx.config(&[
        ("snapshot.mode", "initial"),
        ("snapshot.fetch.size", "5"),
        ("poll.interval.ms", "1"),
    ]);
    let first = Capture::new(config.clone())
        .show_progress(false)
        .stop_after_records(13)
        .run()
        .await
        .unwrap();
    assert_eq!(first.records_acknowledged, 13);
    let stored = first.offset.unwrap();
    let progress = stored.snapshot.clone().expect("snapshot progress stored");
    assert_eq!(progress.table.as_deref(), Some(format!("{db}.t").as_str()));
    assert!(progress.last_key.is_some(), "{progress:?}");
    // Between the runs: a changed and a new row, after the first cut.
    fx.root
        .query_drop(format!("UPDATE {db}.t SET v = 7 WHERE id = 30"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (41, 1)"))
        .await
        .unwrap();
    let second = Capture::new(config)
        .show_progress(false)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    let end = second.offset.unwrap();
    assert!(end.snapshot.is_none(), "{end:?}");
    let records = read_topic(&fx.topic("t"), 13 + 28 + 2);
    let mut per_id: BTreeMap<i64, usize> = BTreeMap::new();
    for (k, v) in &records {
        if v["op"] == "r" {
            *per_id.entry(k["id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    // No loss: every row of the table was read; duplicates at most one chunk.
    assert_eq!(
        per_id.keys().copied().collect::<Vec<_>>(),
        (1..=41).collect::<Vec<_>>()
    );
    let duplicates: usize = per_id.values().map(|n| n - 1).sum();
    assert!(duplicates <= 5, "{duplicates} duplicates: {per_id:?}");
    // And the binlog from the first cut on: the update and the insert, each once.
    let streamed: Vec<(i64, &str)> = records
        .iter()
        .filter(|(_, v)| v["op"] != "r")
        .map(|(k, v)| (k["id"].as_i64().unwrap(), v["op"].as_str().unwrap()))
        .collect();
    assert_eq!(streamed, [(30, "u"), (41, "c")]);
    assert_eq!(
        records.last().unwrap().1["after"],
        json!({"id": 41, "v": 1})
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn when_needed_snapshots_again_when_the_stored_position_is_gone() {
    let mut fx = Fixture::new("snapneeded").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1), (2)"))
        .await
        .unwrap();
    // A binlog file that never existed reads as purged, without purging the shared server.
    let offsets = fx.dir.join("offsets.json");
    std::fs::write(
        &offsets,
        serde_json::to_vec(&Offset::at("binlog.999999", 4)).unwrap(),
    )
    .unwrap();
    let summary = Capture::new(fx.config(&[("snapshot.mode", "when_needed")]))
        .show_progress(false)
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.records_sent, 2);
    let stored = summary.offset.unwrap();
    assert_ne!(stored.file, "binlog.999999");
    assert!(stored.snapshot.is_none());
    let records = read_topic(&fx.topic("t"), 2);
    assert_eq!(
        snapshot_of(&records),
        [(1, "first".to_owned()), (2, "last".to_owned())]
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn snapshot_and_stream_map_every_column_type_alike() {
    let mut fx = Fixture::new("snaptypes").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.t (
               id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT,
               su SMALLINT UNSIGNED, mi MEDIUMINT UNSIGNED, mn MEDIUMINT, bi BIGINT,
               bu BIGINT UNSIGNED, y YEAR, iu INT UNSIGNED, de DECIMAL(10,2), dn DECIMAL(5,0),
               fl FLOAT, db DOUBLE, d DATE, tm TIME(3), tn TIME, dt DATETIME, dt6 DATETIME(6),
               ts TIMESTAMP(3) NULL, ts0 TIMESTAMP NULL, c CHAR(5), vc VARCHAR(20),
               l1 VARCHAR(10) CHARACTER SET latin1, lc CHAR(4) CHARACTER SET latin1, tx TEXT,
               mt MEDIUMTEXT, bn BINARY(3), vb VARBINARY(8), bl BLOB, e ENUM('small','large'),
               s SET('a','b','c'), b1 BIT(1), b16 BIT(16), b3 BIT(3), j JSON, g POINT,
               n INT NULL)"
        ))
        .await
        .unwrap();
    let values = "-5, 250, -300, 65535, 16777215, -8388608, -9000000000, \
        18446744073709551615, 2024, 4294967295, 12.50, -42, 1.5, 2.25, '2024-03-01', \
        '-01:02:03.500', '838:59:59', '2018-06-20 06:37:03', '2018-06-20 06:37:03.123456', \
        '2018-06-20 13:37:03.120', '2018-06-20 13:37:03', 'ab', 'grüße', 'grüße', '€x', \
        'text', 'mediumtext', x'010203', x'ff00', x'00', 'large', 'a,c', b'1', \
        b'0000000100000010', b'101', '{\"a\": [1, \"x\"]}', ST_GeomFromText('POINT(1 2)'), NULL";
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (1, {values})"))
        .await
        .unwrap();
    let schemas = [("value.converter.schemas.enable", "true")];
    let snap = Capture::new(fx.config(&[schemas[0], ("snapshot.mode", "initial_only")]))
        .show_progress(false)
        .run()
        .await
        .unwrap();
    assert_eq!(snap.records_sent, 1);
    fx.root
        .query_drop(format!("INSERT INTO {db}.t VALUES (2, {values})"))
        .await
        .unwrap();
    // The offsets now hold the completed snapshot: `initial` streams from its cut.
    let streamed = Capture::new(fx.config(&[schemas[0], ("snapshot.mode", "initial")]))
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    assert_eq!(streamed.records_sent, 1);
    let records = read_topic(&fx.topic("t"), 2);
    assert_eq!(records.len(), 2, "{records:?}");
    let (read, created) = (&records[0].1, &records[1].1);
    assert_eq!(read["payload"]["op"], "r");
    assert_eq!(created["payload"]["op"], "c");
    let (a, b) = (
        read["payload"]["after"].as_object().unwrap(),
        created["payload"]["after"].as_object().unwrap(),
    );
    assert_eq!(a.len(), 39);
    for (name, value) in a {
        if name != "id" && name != "ts" {
            assert_eq!(Some(value), b.get(name), "column {name}");
        }
    }
    // Except where Debezium's own snapshot writes a value differently (the conformance test in
    // debezium.rs checks this against it): TIMESTAMP without the fraction's trailing zeros.
    assert_eq!(a["ts"], "2018-06-20T13:37:03.12Z");
    assert_eq!(b["ts"], "2018-06-20T13:37:03.120Z");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert_eq!(a["tx"], "text");
    assert_eq!(a["lc"], "€x");
    // And the Connect schemas of the rows are the same.
    let after_schema = |v: &Json| {
        v["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "after")
            .unwrap()
            .clone()
    };
    assert_eq!(after_schema(read), after_schema(created));
    fx.drop_db().await;
}
