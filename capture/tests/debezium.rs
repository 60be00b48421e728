//! Conformance with Debezium: Debezium's own MariaDB connector (Kafka Connect standalone, the
//! `debezium` service of `make up DEBEZIUM=1`) and keel-capture read the same changes with the
//! same connector configuration under two topic prefixes, and their records are compared field
//! by field. Ignored: `source.version`, `source.connector`, `source.name` (the prefix) and the
//! processing time (top-level `ts_ms`/`ts_us`/`ts_ns`); for snapshot reads also the snapshot's
//! own moment (see `debezium/compare.rs`). Run with
//! `cargo test -p keel-capture --features integration --test debezium`.
#![cfg(feature = "integration")]
// Test helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keel_capture::{Capture, ConnectorConfig};
use keel_core::testing::stack;
use mysql_async::prelude::Queryable;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value as Json;

mod common;
#[path = "debezium/compare.rs"]
mod compare;
use common::connect::Connector;
use common::{Fixture, read_topic};

/// The two connectors of one test: the same configuration, two prefixes.
struct Pair {
    fx: Fixture,
    /// Debezium's topic prefix (ours is `fx.prefix`).
    theirs: String,
    connector: Option<Connector>,
    /// Properties both get on top of the common ones.
    extra: BTreeMap<String, String>,
}

impl Pair {
    async fn new(tag: &str, setup: &[String]) -> Self {
        stack::connect().require();
        let mut fx = Fixture::new(tag).await;
        for sql in setup {
            fx.root.query_drop(sql).await.unwrap();
        }
        let theirs = format!("dbz{}", &fx.prefix[2..]);
        Self {
            fx,
            theirs,
            connector: None,
            extra: BTreeMap::new(),
        }
    }

    /// The connector configuration both run with (Debezium's keys), for `prefix`.
    fn props(&self, prefix: &str, server_id: u32, mode: &str) -> BTreeMap<String, String> {
        let kafka = stack::kafka().url;
        let history = format!("{prefix}.schema-history");
        let server_id = server_id.to_string();
        [
            (
                "connector.class",
                "io.debezium.connector.mariadb.MariaDbConnector",
            ),
            ("tasks.max", "1"),
            ("database.hostname", "127.0.0.1"),
            ("database.port", "3306"),
            ("database.user", "keel"),
            ("database.password", "keel"),
            ("database.server.id", server_id.as_str()),
            ("topic.prefix", prefix),
            ("database.include.list", self.fx.db.as_str()),
            ("snapshot.mode", mode),
            ("include.schema.changes", "false"),
            (
                "schema.history.internal.kafka.bootstrap.servers",
                kafka.as_str(),
            ),
            ("schema.history.internal.kafka.topic", history.as_str()),
            (
                "schema.history.internal.store.only.captured.databases.ddl",
                "true",
            ),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn server_id(base: u32) -> u32 {
        base + (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32
    }

    /// Registers Debezium's connector with `snapshot.mode=mode`.
    async fn start_debezium(&mut self, mode: &str) {
        let mut props = self.props(&self.theirs, Self::server_id(2_000_000), mode);
        props.extend(self.extra.clone());
        self.connector = Some(Connector::register(&self.theirs, &props).await);
    }

    /// Registers Debezium with `no_data` and waits until it streams: rows inserted into a
    /// `ready` table one by one until one of them comes out of its topic.
    async fn start_debezium_streaming(&mut self) {
        let db = self.fx.db.clone();
        self.fx
            .root
            .query_drop(format!("CREATE TABLE {db}.ready (id INT PRIMARY KEY)"))
            .await
            .unwrap();
        self.start_debezium("no_data").await;
        let topic = format!("{}.{db}.ready", self.theirs);
        let consumer = any_record_consumer(&topic);
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0.. {
            self.fx
                .root
                .query_drop(format!("INSERT INTO {db}.ready VALUES ({i})"))
                .await
                .unwrap();
            if has_record(&consumer, Duration::from_secs(1)) {
                return;
            }
            self.connector.as_ref().unwrap().assert_healthy().await;
            assert!(
                Instant::now() < deadline,
                "Debezium did not stream {topic} within 90 s"
            );
        }
    }

    /// Runs keel-capture over the same changes: from `start` (streaming) or with a snapshot.
    async fn run_ours(&self, mode: &str, start: Option<keel_capture::offsets::Offset>) {
        let mut props = self.props(&self.fx.prefix, Self::server_id(3_000_000), mode);
        props.extend(self.extra.clone());
        let offsets = self.fx.dir.join("offsets.json").display().to_string();
        props.insert("offset.storage.file.filename".into(), offsets);
        let config = ConnectorConfig::from_properties("conformance", &props)
            .unwrap()
            .config;
        let mut capture = Capture::new(config).exit_at_end(true).show_progress(false);
        if let Some(start) = start {
            capture = capture.start_at(start);
        }
        capture.run().await.unwrap();
    }

    /// Reads `table`'s topic of both (`expected` records each) and asserts they conform.
    async fn assert_conform(&self, table: &str, expected: usize) {
        let ours_topic = self.fx.topic(table);
        let theirs_topic = format!("{}.{}.{table}", self.theirs, self.fx.db);
        let ours = read_topic(&ours_topic, expected);
        let theirs = read_topic(&theirs_topic, expected);
        self.connector.as_ref().unwrap().assert_healthy().await;
        let diffs = compare::records(
            table,
            compare::Side {
                prefix: &self.fx.prefix,
                records: &ours,
            },
            compare::Side {
                prefix: &self.theirs,
                records: &theirs,
            },
        );
        assert!(
            diffs.is_empty(),
            "{} difference(s) from Debezium on {table}:\n{}",
            diffs.len(),
            diffs
                .iter()
                .take(40)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(ours.len(), expected, "records on {ours_topic}");
    }

    async fn finish(self) {
        if let Some(c) = self.connector {
            c.delete().await;
        }
        self.fx.drop_db().await;
    }
}

fn any_record_consumer(topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", stack::kafka().url)
        .set("group.id", format!("it-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// True when a record arrives within `wait` (errors such as a topic not created yet are not).
fn has_record(consumer: &BaseConsumer, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            return true;
        }
    }
    false
}

/// Every column type of docs/capture.md's table (and more widths), NULLs and extremes.
fn types_table(db: &str) -> String {
    format!(
        "CREATE TABLE {db}.types (
           id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
           mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT,
           bu BIGINT UNSIGNED, de DECIMAL(10,2), dz DECIMAL(20,0), df DECIMAL(5,5),
           fl FLOAT, db DOUBLE, d DATE, t0 TIME, tm TIME(3), t6 TIME(6), dt DATETIME,
           dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL,
           ts6 TIMESTAMP(6) NULL, y YEAR, c CHAR(5), vc VARCHAR(40), l1 VARCHAR(10) CHARACTER SET latin1,
           asc1 VARCHAR(10) CHARACTER SET ascii, tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
           bn BINARY(3), vb VARBINARY(8), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
           e ENUM('small','large'), s SET('a','b','c'), b1 BIT(1), b8 BIT(8), b16 BIT(16),
           b64 BIT(64), j JSON, g GEOMETRY, p POINT, n INT NULL)"
    )
}

/// Row 1: ordinary values; row 2: NULL everywhere; row 3: the extremes of each type.
fn types_rows(db: &str) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO {db}.types VALUES (1, -5, 250, -300, 65000, -8000000, 16777215,
               -2000000000, 4294967295, -9000000000, 18446744073709551615, 12.50,
               12345678901234567890, 0.12345, 1.1, 2.25, '2024-03-01', '12:34:56', '01:02:03.500',
               '-01:02:03.000001', '2018-06-20 06:37:03', '2018-06-20 06:37:03.120',
               '2018-06-20 06:37:03.123456', '2018-06-20 13:37:03', '2018-06-20 13:37:03.120',
               '2018-06-20 13:37:03.123456', 2024, 'ab', 'grüße 😀 漢字', 'grüße €', 'plain',
               'tiny', 'text', 'medium', 'long', x'010203', x'ff00', x'01', x'00', x'0203', x'04',
               'large', 'a,c', b'1', b'10000001', b'0000000100000010',
               b'1000000000000000000000000000000000000000000000000000000000000001',
               '{{\"a\": [1, \"ü\"]}}', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),
               ST_GeomFromText('POINT(1 2)'), NULL)"
        ),
        format!("INSERT INTO {db}.types (id) VALUES (2)"),
        format!(
            "INSERT INTO {db}.types VALUES (3, -128, 255, -32768, 65535, -8388608, 0,
               -2147483648, 0, -9223372036854775808, 9223372036854775808, -99999999.99,
               -99999999999999999999, -0.99999, -3.40282e38, 1.7976931348623157e308,
               '1000-01-01', '-838:59:59', '838:59:59.999', '00:00:00', '1000-01-01 00:00:00',
               '9999-12-31 23:59:59.999', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:01',
               '2038-01-19 03:14:07.000', '2000-02-29 00:00:00.5', 1901, '', '', '', '', '', '', '',
               '', x'000000', x'', x'', x'', x'', x'', 'small', '', b'0', b'0', b'1111111111111111',
               b'0', '[]', ST_GeomFromText('POINT(-1.5 2.5)'), ST_GeomFromText('POINT(0 0)'), 0)"
        ),
    ]
}

#[tokio::test]
async fn column_types_nulls_and_unicode_match_debezium() {
    let mut pair = Pair::new("dbz_types", &[]).await;
    let db = pair.fx.db.clone();
    pair.fx.root.query_drop(types_table(&db)).await.unwrap();
    pair.fx
        .root
        .query_drop(format!(
            "CREATE TABLE {db}.unicode (k VARCHAR(20) PRIMARY KEY, u VARCHAR(40) CHARACTER SET utf8mb4,
               u3 VARCHAR(40) CHARACTER SET utf8mb3, l1 TEXT CHARACTER SET latin1)"
        ))
        .await
        .unwrap();
    pair.start_debezium_streaming().await;
    let start = pair.fx.position().await;
    for sql in types_rows(&db) {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    for sql in [
        format!("UPDATE {db}.types SET vc = 'changed', n = 7 WHERE id = 1"),
        format!("UPDATE {db}.types SET ti = 1 WHERE id = 2"),
        format!("DELETE FROM {db}.types WHERE id = 3"),
        format!(
            "INSERT INTO {db}.unicode VALUES ('ключ', '😀 👩‍👩‍👧 e\u{301}', 'ü ß 漢字', 'Ærø €‰'),
               ('日本', '', 'ascii', NULL), ('', NULL, NULL, 'x')"
        ),
        format!("UPDATE {db}.unicode SET u = '𝄞 music' WHERE k = '日本'"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.run_ours("no_data", Some(start)).await;
    // 3 creates, 2 updates, a delete and its tombstone; 3 creates and an update.
    pair.assert_conform("types", 7).await;
    pair.assert_conform("unicode", 4).await;
    pair.finish().await;
}

#[tokio::test]
async fn multi_row_statements_a_large_transaction_and_a_key_update_match_debezium() {
    let mut pair = Pair::new("dbz_dml", &[]).await;
    let db = pair.fx.db.clone();
    for sql in [
        format!("CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20), qty INT)"),
        format!(
            "CREATE TABLE {db}.big (id INT PRIMARY KEY, label VARCHAR(30), amount DECIMAL(12,2))"
        ),
        format!("CREATE TABLE {db}.nokey (a INT, b VARCHAR(10))"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.start_debezium_streaming().await;
    let start = pair.fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.items VALUES (1,'a',1),(2,'b',2),(3,'c',3),(4,'d',4),(5,'e',5)"),
        format!("UPDATE {db}.items SET qty = qty + 10 WHERE id <= 3"),
        format!("DELETE FROM {db}.items WHERE id IN (4, 5)"),
        format!("UPDATE {db}.items SET id = 100 WHERE id = 1"),
        "BEGIN".to_owned(),
        format!(
            "INSERT INTO {db}.big SELECT seq, CONCAT('row ', seq), seq * 1.25 FROM seq_1_to_5000"
        ),
        format!("UPDATE {db}.big SET amount = 0 WHERE id % 1000 = 0"),
        format!("UPDATE {db}.items SET name = 'in txn' WHERE id = 2"),
        "COMMIT".to_owned(),
        format!("INSERT INTO {db}.nokey VALUES (1, 'x'), (1, 'x'), (2, 'y')"),
        format!("UPDATE {db}.nokey SET b = 'z' WHERE a = 1"),
        format!("DELETE FROM {db}.nokey WHERE a = 2"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.run_ours("no_data", Some(start)).await;
    // items: 5 c, 3 u, 2 × (d + tombstone), key change d + tombstone + c, 1 u.
    pair.assert_conform("items", 16).await;
    // big: 5000 c and 5 u in one transaction.
    pair.assert_conform("big", 5005).await;
    // nokey: 3 c, 2 u, 1 d and its tombstone (with a null key, as Debezium writes it).
    pair.assert_conform("nokey", 7).await;
    pair.finish().await;
}

#[tokio::test]
async fn ddl_mid_stream_matches_debezium() {
    let mut pair = Pair::new("dbz_ddl", &[]).await;
    let db = pair.fx.db.clone();
    pair.fx
        .root
        .query_drop(format!(
            "CREATE TABLE {db}.evolving (id INT PRIMARY KEY, a VARCHAR(10))"
        ))
        .await
        .unwrap();
    pair.start_debezium_streaming().await;
    let start = pair.fx.position().await;
    for sql in [
        format!("INSERT INTO {db}.evolving VALUES (1, 'x')"),
        format!("ALTER TABLE {db}.evolving ADD COLUMN b INT NOT NULL DEFAULT 7"),
        format!("INSERT INTO {db}.evolving VALUES (2, 'y', 8)"),
        format!("UPDATE {db}.evolving SET b = 9 WHERE id = 1"),
        format!("ALTER TABLE {db}.evolving DROP COLUMN a, ADD COLUMN c DATETIME(3) NULL"),
        format!("INSERT INTO {db}.evolving VALUES (3, 10, '2024-01-02 03:04:05.678')"),
        format!("ALTER TABLE {db}.evolving MODIFY b BIGINT UNSIGNED"),
        format!("INSERT INTO {db}.evolving VALUES (4, 18446744073709551615, NULL)"),
        format!("CREATE TABLE {db}.later (id INT PRIMARY KEY, v VARCHAR(5))"),
        format!("INSERT INTO {db}.later VALUES (1, 'new')"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.run_ours("no_data", Some(start)).await;
    pair.assert_conform("evolving", 5).await;
    pair.assert_conform("later", 1).await;
    pair.finish().await;
}

#[tokio::test]
async fn initial_snapshot_matches_debezium() {
    let mut pair = Pair::new("dbz_snap", &[]).await;
    let db = pair.fx.db.clone();
    pair.fx.root.query_drop(types_table(&db)).await.unwrap();
    for sql in types_rows(&db) {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    for sql in [
        format!(
            "CREATE TABLE {db}.orders (id INT PRIMARY KEY, customer VARCHAR(20), total DECIMAL(8,2))"
        ),
        format!(
            "INSERT INTO {db}.orders SELECT seq, CONCAT('c', seq % 7), seq / 4 FROM seq_1_to_250"
        ),
        format!("CREATE TABLE {db}.nokey (a INT, b VARCHAR(10))"),
        format!("INSERT INTO {db}.nokey VALUES (1, 'x'), (2, 'y')"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.start_debezium("initial").await;
    pair.run_ours("initial", None).await;
    pair.assert_conform("nokey", 2).await;
    pair.assert_conform("orders", 250).await;
    pair.assert_conform("types", 3).await;
    pair.finish().await;
}

#[tokio::test]
async fn schemas_match_debezium() {
    let mut pair = Pair::new("dbz_schemas", &[]).await;
    let db = pair.fx.db.clone();
    pair.fx.root.query_drop(types_table(&db)).await.unwrap();
    let json = "org.apache.kafka.connect.json.JsonConverter";
    for (k, v) in [
        ("key.converter", json),
        ("value.converter", json),
        ("key.converter.schemas.enable", "true"),
        ("value.converter.schemas.enable", "true"),
    ] {
        pair.extra.insert(k.to_owned(), v.to_owned());
    }
    pair.start_debezium_streaming().await;
    let start = pair.fx.position().await;
    for sql in types_rows(&db) {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.fx
        .root
        .query_drop(format!("DELETE FROM {db}.types WHERE id = 2"))
        .await
        .unwrap();
    pair.run_ours("no_data", Some(start)).await;
    pair.assert_conform("types", 5).await;
    pair.finish().await;
}

#[tokio::test]
async fn transaction_metadata_matches_debezium() {
    let mut pair = Pair::new("dbz_txn", &[]).await;
    let db = pair.fx.db.clone();
    for sql in [
        format!("CREATE TABLE {db}.a (id INT PRIMARY KEY, v VARCHAR(10))"),
        format!("CREATE TABLE {db}.b (id INT PRIMARY KEY, v VARCHAR(10))"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.extra
        .insert("provide.transaction.metadata".into(), "true".into());
    pair.start_debezium_streaming().await;
    let start = pair.fx.position().await;
    for sql in [
        "BEGIN".to_owned(),
        format!("INSERT INTO {db}.a VALUES (1, 'x'), (2, 'y')"),
        format!("INSERT INTO {db}.b VALUES (1, 'z')"),
        format!("UPDATE {db}.a SET v = 'w' WHERE id = 1"),
        format!("DELETE FROM {db}.b WHERE id = 1"),
        "COMMIT".to_owned(),
        format!("INSERT INTO {db}.a VALUES (3, 'auto')"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.run_ours("no_data", Some(start)).await;
    // a: 2 c, 1 u; then 1 c. b: 1 c, 1 d and its tombstone.
    pair.assert_conform("a", 4).await;
    pair.assert_conform("b", 3).await;
    // Debezium's transaction topic also has the `ready` rows' transactions (BEGIN and END
    // each) from before our start: wait for all of them, compare the transactions ours saw.
    let ours = read_topic(&format!("{}.transaction", pair.fx.prefix), 4);
    let ids: Vec<&Json> = ours.iter().map(|(k, _)| &k["id"]).collect();
    let ready = read_topic(&format!("{}.{db}.ready", pair.theirs), 1).len();
    let theirs: Vec<(Json, Json)> =
        read_topic(&format!("{}.transaction", pair.theirs), 2 * ready + 4)
            .into_iter()
            .filter(|(k, _)| ids.contains(&&k["id"]))
            .collect();
    let diffs = compare::records(
        "transaction",
        compare::Side {
            prefix: &pair.fx.prefix,
            records: &ours,
        },
        compare::Side {
            prefix: &pair.theirs,
            records: &theirs,
        },
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(ours.len(), 4, "BEGIN and END of two transactions: {ours:?}");
    pair.finish().await;
}

/// The explored table: most column types and attributes `tableChanges` describe.
fn described_table(db: &str) -> String {
    format!(
        "CREATE TABLE {db}.t1 (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
           name VARCHAR(40) NOT NULL DEFAULT 'x' COMMENT 'the name', price DECIMAL(10,2) DEFAULT 1.50,
           e ENUM('a','b') NOT NULL DEFAULT 'a', s SET('x','y'), l1 VARCHAR(10) CHARACTER SET latin1,
           ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
           dt DATETIME(6), b BIT(4), bl BLOB, j JSON, g GEOMETRY, p POINT, f FLOAT(7,3), d DOUBLE,
           ti TINYINT(1), y YEAR, gen INT AS (id * 2) VIRTUAL, bn BINARY(3), tx TEXT,
           c CHAR(5) COLLATE utf8mb4_bin, UNIQUE KEY uk (name)) DEFAULT CHARSET=utf8mb4 COMMENT='tbl'"
    )
}

#[tokio::test]
async fn schema_change_events_and_table_changes_match_debezium() {
    let mut pair = Pair::new("dbz_schema", &[]).await;
    let db = pair.fx.db.clone();
    for sql in [
        described_table(&db),
        format!("CREATE TABLE {db}.t2 (a INT, b VARCHAR(3))"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    pair.extra
        .insert("include.schema.changes".into(), "true".into());
    pair.start_debezium_streaming().await;
    // Ours starts now too, without history: a schema snapshot of the same tables.
    let mut props = pair.props(&pair.fx.prefix, Pair::server_id(3_000_000), "no_data");
    props.extend(pair.extra.clone());
    let offsets = pair.fx.dir.join("offsets.json").display().to_string();
    props.insert("offset.storage.file.filename".into(), offsets);
    let config = ConnectorConfig::from_properties("conformance", &props)
        .unwrap()
        .config;
    Capture::new(config.clone())
        .exit_at_end(true)
        .run()
        .await
        .unwrap();
    for sql in [
        format!("ALTER TABLE {db}.t1 ADD COLUMN added INT NOT NULL DEFAULT 7 AFTER name, DROP COLUMN tx"),
        format!("ALTER TABLE {db}.t1 MODIFY price DECIMAL(12,4) NULL"),
        format!("ALTER TABLE {db}.t1 RENAME COLUMN c TO c2"),
        format!("ALTER TABLE {db}.t1 CHANGE added added2 BIGINT UNSIGNED"),
        format!("ALTER TABLE {db}.t1 ALTER COLUMN e SET DEFAULT 'b', COMMENT = 'changed'"),
        format!(
            "CREATE TABLE {db}.t3 (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, d DATE, t TIME(3),
               ts TIMESTAMP NULL, v VARBINARY(16), n NUMERIC, de DEC(5), ch CHARACTER(2),
               nv NVARCHAR(4), bo BOOLEAN, js JSON, s SET('a','b','c'), fl FLOAT, dp DOUBLE PRECISION,
               tx TEXT CHARACTER SET latin1, u VARCHAR(5) UNIQUE, m MEDIUMINT(8) UNSIGNED ZEROFILL,
               sm SMALLINT DEFAULT -3, bt BIT DEFAULT b'1') DEFAULT CHARSET=latin1 COMMENT 'c3'"
        ),
        format!("ALTER TABLE {db}.t2 MODIFY a INT NOT NULL"),
        format!("CREATE UNIQUE INDEX ua ON {db}.t2 (a)"),
        format!("RENAME TABLE {db}.t3 TO {db}.t4"),
        format!("ALTER TABLE {db}.t4 DROP PRIMARY KEY, ADD PRIMARY KEY (id, d)"),
        format!("DROP TABLE {db}.t4"),
        format!("TRUNCATE TABLE {db}.t2"),
        format!("CREATE TABLE {db}.t5 LIKE {db}.t2"),
    ] {
        pair.fx.root.query_drop(sql).await.unwrap();
    }
    Capture::new(config).exit_at_end(true).run().await.unwrap();
    // The schema snapshot (SET; DROP TABLE of ready, t1, t2; DROP, CREATE DATABASE; USE;
    // CREATE TABLE of each) and one event per statement but TRUNCATE.
    let expected = 10 + 12;
    let ours = read_topic(&pair.fx.prefix, expected);
    let theirs = read_topic(&pair.theirs, expected);
    pair.connector.as_ref().unwrap().assert_healthy().await;
    let diffs = compare::records(
        "schema changes",
        compare::Side {
            prefix: &pair.fx.prefix,
            records: &ours,
        },
        compare::Side {
            prefix: &pair.theirs,
            records: &theirs,
        },
    );
    assert!(
        diffs.is_empty(),
        "{} difference(s) from Debezium:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(ours.len(), expected);
    pair.finish().await;
}
