//! The model against what Debezium 3.4 wrote for the same statements (read from its schema
//! change topic on the local stack).

use super::*;
use crate::schema::ddl::parse;

const SHOWN: &str = "CREATE TABLE `t1` (
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(40) NOT NULL DEFAULT 'x' COMMENT 'the name',
  `price` decimal(10,2) DEFAULT 1.50,
  `e` enum('a','b') NOT NULL DEFAULT 'a',
  `s` set('x','y') DEFAULT NULL,
  `l1` varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT NULL,
  `ts` timestamp(3) NOT NULL DEFAULT current_timestamp(3) ON UPDATE current_timestamp(3),
  `dt` datetime(6) DEFAULT NULL,
  `b` bit(4) DEFAULT NULL,
  `bl` blob DEFAULT NULL,
  `j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`)),
  `g` geometry DEFAULT NULL,
  `p` point DEFAULT NULL,
  `f` float(7,3) DEFAULT NULL,
  `d` double DEFAULT NULL,
  `ti` tinyint(1) DEFAULT NULL,
  `y` year(4) DEFAULT NULL,
  `gen` int(11) GENERATED ALWAYS AS (`id` * 2) VIRTUAL,
  `bn` binary(3) DEFAULT NULL,
  `tx` text DEFAULT NULL,
  `c` char(5) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='tbl'";

fn all(_: &TableId) -> bool {
    true
}

fn run(tables: &mut Tables, sql: &str) -> Vec<SchemaEvent> {
    tables.apply(&parse(sql).unwrap(), sql, "db", &all).unwrap()
}

/// (name, jdbcType, typeName, charset, length, scale, position, optional, default)
type Row = (
    &'static str,
    i32,
    &'static str,
    Option<&'static str>,
    Option<i32>,
    Option<i32>,
    i32,
    bool,
    Option<&'static str>,
);

fn rows(t: &Table) -> Vec<Row> {
    t.columns
        .iter()
        .map(|c| {
            (
                leak(&c.name),
                c.jdbc_type,
                leak(&c.type_name),
                c.charset.as_deref().map(leak),
                c.length,
                c.scale,
                c.position,
                c.optional,
                c.default_expression.as_deref().map(leak),
            )
        })
        .collect()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn created(tables: &mut Tables) -> Table {
    tables.set_db_charset("db", "utf8mb4");
    let events = run(tables, SHOWN);
    assert_eq!(events.len(), 1);
    events[0].change.clone().unwrap().table.unwrap()
}

#[test]
fn show_create_table_reads_as_debezium_describes_it() {
    let mut tables = Tables::default();
    let t = created(&mut tables);
    assert_eq!(t.default_charset.as_deref(), Some("utf8mb4"));
    assert_eq!(t.primary_key, ["id"]);
    assert_eq!(t.comment.as_deref(), Some("tbl"));
    let u8 = Some("utf8mb4");
    let expected: Vec<Row> = vec![
        (
            "id",
            4,
            "INT UNSIGNED",
            None,
            Some(10),
            None,
            1,
            false,
            None,
        ),
        (
            "name",
            12,
            "VARCHAR",
            u8,
            Some(40),
            None,
            2,
            false,
            Some("x"),
        ),
        (
            "price",
            3,
            "DECIMAL",
            None,
            Some(10),
            Some(2),
            3,
            true,
            Some("1.50"),
        ),
        ("e", 1, "ENUM", u8, Some(1), None, 4, false, Some("a")),
        ("s", 1, "SET", u8, Some(3), None, 5, true, None),
        (
            "l1",
            12,
            "VARCHAR",
            Some("latin1"),
            Some(10),
            None,
            6,
            true,
            None,
        ),
        (
            "ts",
            2014,
            "TIMESTAMP",
            None,
            Some(3),
            None,
            7,
            false,
            Some("1970-01-01 00:00:00"),
        ),
        ("dt", 93, "DATETIME", None, Some(6), None, 8, true, None),
        ("b", -7, "BIT", None, Some(4), None, 9, true, None),
        ("bl", 2004, "BLOB", None, None, None, 10, true, None),
        ("j", 12, "LONGTEXT", u8, None, None, 11, true, None),
        ("g", 1111, "GEOMETRY", None, None, None, 12, true, None),
        ("p", 1111, "POINT", None, None, None, 13, true, None),
        ("f", 6, "FLOAT", None, Some(7), Some(3), 14, true, None),
        ("d", 8, "DOUBLE", None, None, None, 15, true, None),
        ("ti", 5, "TINYINT", None, Some(1), None, 16, true, None),
        ("y", 4, "YEAR", None, Some(4), None, 17, true, None),
        ("gen", 4, "INT", None, Some(11), None, 18, true, None),
        ("bn", -2, "BINARY", None, Some(3), None, 19, true, None),
        ("tx", 12, "TEXT", u8, None, None, 20, true, None),
        ("c", 1, "CHAR", u8, Some(5), None, 21, true, None),
    ];
    assert_eq!(rows(&t), expected);
    let id = &t.columns[0];
    assert!(id.auto_incremented && id.generated && !id.has_default);
    assert!(
        !t.columns[17].generated,
        "a virtual column is not `generated` to Debezium"
    );
    assert_eq!(t.columns[1].comment.as_deref(), Some("the name"));
    assert_eq!(t.columns[3].enum_values, ["'a'", "'b'"]);
}

#[test]
fn alter_table_follows_debeziums_parser() {
    let mut tables = Tables::default();
    created(&mut tables);
    let t = |events: Vec<SchemaEvent>| events[0].change.clone().unwrap().table.unwrap();

    let a = t(run(
        &mut tables,
        "ALTER TABLE db.t1 ADD COLUMN added INT NOT NULL DEFAULT 7 AFTER name, DROP COLUMN tx",
    ));
    assert_eq!(
        rows(&a)[2],
        ("added", 4, "INT", None, None, None, 3, false, Some("7"))
    );
    assert_eq!(a.columns.len(), 21);
    assert_eq!(a.columns[20].name, "c");

    let m = t(run(
        &mut tables,
        "ALTER TABLE db.t1 MODIFY price DECIMAL(12,4) NULL",
    ));
    assert_eq!(
        rows(&m)[3],
        (
            "price",
            3,
            "DECIMAL",
            None,
            Some(12),
            Some(4),
            4,
            true,
            None
        )
    );

    let r = t(run(&mut tables, "ALTER TABLE db.t1 RENAME COLUMN c TO c2"));
    assert_eq!(r.columns[20].name, "c2");

    let c = t(run(
        &mut tables,
        "ALTER TABLE db.t1 CHANGE added added2 BIGINT UNSIGNED",
    ));
    // Debezium keeps the old column's NOT NULL (MariaDB itself would make it nullable).
    assert_eq!(
        rows(&c)[2],
        (
            "added2",
            -5,
            "BIGINT UNSIGNED",
            None,
            None,
            None,
            3,
            false,
            None
        )
    );

    let k = t(run(
        &mut tables,
        "ALTER TABLE db.t1 DROP PRIMARY KEY, ADD PRIMARY KEY (name, added2), ALTER e DROP DEFAULT, \
         MODIFY ti TINYINT(1) FIRST",
    ));
    assert_eq!(k.primary_key, ["name", "added2"]);
    assert_eq!(k.columns[0].name, "ti");
    assert_eq!(k.column("e").unwrap().default_expression, None);
}

#[test]
fn create_rename_and_drop_make_one_event_per_table() {
    let mut tables = Tables::default();
    tables.set_db_charset("db", "utf8mb4");
    let e = run(&mut tables, "CREATE TABLE db.t2 (a INT, b VARCHAR(3))");
    let t2 = e[0].change.clone().unwrap().table.unwrap();
    assert_eq!(
        rows(&t2),
        [
            ("a", 4, "INT", None, None, None, 1, true, None),
            (
                "b",
                12,
                "VARCHAR",
                Some("utf8mb4"),
                Some(3),
                None,
                2,
                true,
                None
            )
        ]
    );
    assert!(
        t2.columns[0].has_default,
        "a nullable column defaults to NULL"
    );

    let e = run(&mut tables, "RENAME TABLE db.t2 TO db.t3");
    assert_eq!(e[0].ddl, "RENAME TABLE db.t2 TO db.t3");
    let change = e[0].change.clone().unwrap();
    assert_eq!(
        (change.kind, change.id.table.as_str()),
        (ChangeKind::Alter, "t3")
    );
    assert!(tables.get(&TableId::new("db", "t2")).is_none());

    let e = run(
        &mut tables,
        "DROP TABLE `db`.`t3` /* generated by server */",
    );
    assert_eq!(e[0].ddl, "DROP TABLE `db`.`t3`");
    assert_eq!(e[0].change.as_ref().unwrap().kind, ChangeKind::Drop);
    assert!(tables.iter().next().is_none());

    assert!(run(&mut tables, "TRUNCATE TABLE db.t1").is_empty());
    let e = run(&mut tables, "CREATE INDEX ix ON db.t1 (a)");
    assert_eq!(
        (e[0].database.as_str(), e[0].change.is_none()),
        ("db", true)
    );
}

#[test]
fn unknown_tables_and_uncaptured_ones() {
    let mut tables = Tables::default();
    let sql = "ALTER TABLE db.gone ADD COLUMN x INT";
    let err = tables
        .apply(&parse(sql).unwrap(), sql, "db", &all)
        .unwrap_err();
    assert!(err.reason.contains("gone"), "{err:?}");
    let none = |_: &TableId| false;
    let sql = "CREATE TABLE db.x (a INT)";
    assert!(
        tables
            .apply(&parse(sql).unwrap(), sql, "db", &none)
            .unwrap()
            .is_empty()
    );
    assert!(tables.iter().next().is_none());
}

#[test]
fn unique_keys_stand_in_for_a_missing_primary_key() {
    let mut tables = Tables::default();
    let e = run(
        &mut tables,
        "CREATE TABLE db.u (a INT NOT NULL, b INT, UNIQUE KEY (a))",
    );
    assert_eq!(
        e[0].change.clone().unwrap().table.unwrap().primary_key,
        ["a"]
    );
    let e = run(&mut tables, "CREATE TABLE db.v (a INT, b INT NOT NULL)");
    assert!(
        e[0].change
            .clone()
            .unwrap()
            .table
            .unwrap()
            .primary_key
            .is_empty()
    );
    let e = run(&mut tables, "CREATE UNIQUE INDEX ub ON db.v (b)");
    assert_eq!(
        e[0].change.clone().unwrap().table.unwrap().primary_key,
        ["b"]
    );
}
