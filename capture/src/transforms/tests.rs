//! Chain and predicate tests, and literal records shared by the transforms' tests.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::envelope::{Envelope, Row, Source};

pub(super) fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A change event of `d.t` with `op`.
pub(super) fn envelope(op: &'static str) -> Envelope {
    let row = |v: i64| Row(vec![("id".into(), json!(1)), ("v".into(), json!(v))]);
    Envelope {
        before: (op != "c").then(|| row(1)),
        after: (op != "d").then(|| row(2)),
        source: Source {
            version: "0".into(),
            connector: "mariadb",
            name: "p".into(),
            ts_ms: 5,
            snapshot: "false",
            db: "d".into(),
            sequence: None,
            ts_us: 5000,
            ts_ns: 5_000_000,
            table: "t".into(),
            server_id: 1,
            gtid: None,
            file: "f".into(),
            pos: 4,
            row: 0,
            thread: None,
            query: None,
        },
        transaction: None,
        op,
        ts_ms: 7,
        ts_us: 7000,
        ts_ns: 7_000_000,
        source_json: None,
    }
}

/// `env` as the record capture makes of it: topic `p.d.t`, key `{"id": 1}`.
pub(super) fn source_record(env: Envelope) -> ConnectRecord {
    ConnectRecord {
        topic: "p.d.t".into(),
        key: Some(Payload::Row(Row(vec![("id".into(), json!(1))]))),
        value: Some(Payload::envelope(env)),
        headers: Vec::new(),
    }
}

pub(super) fn record(op: &'static str) -> ConnectRecord {
    source_record(envelope(op))
}

fn chain(pairs: &[(&str, &str)]) -> Chain {
    from_properties(&props(pairs)).unwrap().0
}

#[test]
fn a_chain_applies_in_order() {
    let c = chain(&[
        ("transforms", "unwrap,route,origin"),
        ("transforms.unwrap.type", EXTRACT_NEW_RECORD_STATE),
        ("transforms.route.type", REGEX_ROUTER),
        ("transforms.route.regex", r"p\.d\.(.*)"),
        ("transforms.route.replacement", "cdc.$1"),
        ("transforms.origin.type", INSERT_FIELD_VALUE),
        ("transforms.origin.topic.field", "from"),
    ]);
    assert_eq!(c.aliases(), ["unwrap", "route", "origin"]);
    assert_eq!(c.value_reshaper(), Some("unwrap"));
    assert_eq!(c.key_reshaper(), None);
    let out = c.apply(record("c")).unwrap().unwrap();
    assert_eq!(out.topic, "cdc.t");
    // InsertField ran after RegexRouter: it sees the new topic.
    assert_eq!(
        out.value.unwrap().to_bytes(None).unwrap(),
        br#"{"id":1,"v":2,"from":"cdc.t"}"#
    );
}

#[test]
fn regex_router_needs_the_whole_topic_to_match() {
    let c = chain(&[
        ("transforms", "r"),
        ("transforms.r.type", REGEX_ROUTER),
        ("transforms.r.regex", "d\\.(.*)"),
        ("transforms.r.replacement", "x.$1"),
    ]);
    assert_eq!(c.apply(record("c")).unwrap().unwrap().topic, "p.d.t");
}

#[test]
fn predicates_select_the_records_a_transform_applies_to() {
    let base = [
        ("transforms", "drop"),
        ("transforms.drop.type", FILTER),
        ("transforms.drop.predicate", "isT"),
        ("predicates", "isT,tomb,hdr"),
        (
            "predicates.isT.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isT.pattern", r"p\.d\.t"),
        (
            "predicates.tomb.type",
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        ),
        (
            "predicates.hdr.type",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        ),
        ("predicates.hdr.name", "x"),
    ];
    let c = chain(&base);
    assert_eq!(c.apply(record("c")).unwrap(), None, "the topic matches");
    let mut other = record("c");
    other.topic = "p.d.u".into();
    assert!(c.apply(other.clone()).unwrap().is_some());

    let mut negated = base.to_vec();
    negated.push(("transforms.drop.negate", "true"));
    let c = chain(&negated);
    assert!(c.apply(record("c")).unwrap().is_some());
    assert_eq!(c.apply(other).unwrap(), None);

    let mut by_tombstone = base.to_vec();
    by_tombstone[2] = ("transforms.drop.predicate", "tomb");
    let c = chain(&by_tombstone);
    let mut tombstone = record("d");
    tombstone.value = None;
    assert_eq!(c.apply(tombstone).unwrap(), None);
    assert!(c.apply(record("d")).unwrap().is_some());

    let mut by_header = base.to_vec();
    by_header[2] = ("transforms.drop.predicate", "hdr");
    let c = chain(&by_header);
    let mut with_header = record("c");
    with_header.headers.push(Header::text("x", "1"));
    assert_eq!(c.apply(with_header).unwrap(), None);
    assert!(c.apply(record("c")).unwrap().is_some());
}

#[test]
fn a_failing_transform_is_named() {
    let c = chain(&[
        ("transforms", "outbox"),
        ("transforms.outbox.type", EVENT_ROUTER),
    ]);
    let err = c.apply(record("c")).unwrap_err();
    assert_eq!(err.alias, "outbox");
    assert!(
        err.reason.contains("aggregateid") || err.reason.contains("`id`"),
        "{err:?}"
    );
}

#[test]
fn bad_types_predicates_and_aliases_are_named() {
    let err = |pairs: &[(&str, &str)]| from_properties(&props(pairs)).unwrap_err().to_string();
    let e = err(&[
        ("transforms", "r"),
        ("transforms.r.type", "com.example.Nope"),
    ]);
    assert!(
        e.contains("transforms.r.type") && e.contains(REGEX_ROUTER),
        "{e}"
    );
    let e = err(&[("transforms", "r")]);
    assert!(e.contains("transforms.r.type"), "{e}");
    let e = err(&[
        ("transforms", "f"),
        ("transforms.f.type", FILTER),
        ("transforms.f.predicate", "missing"),
    ]);
    assert!(e.contains("transforms.f.predicate"), "{e}");
    let e = err(&[("transforms", "f,f"), ("transforms.f.type", FILTER)]);
    assert!(e.contains("twice"), "{e}");
    let e = err(&[("predicates", "p"), ("predicates.p.type", "x.Y")]);
    assert!(e.contains("predicates.p.type"), "{e}");
    let e = err(&[
        ("transforms", "r"),
        ("transforms.r.type", REGEX_ROUTER),
        ("transforms.r.regex", "(a)"),
        ("transforms.r.replacement", "$2"),
    ]);
    assert!(
        e.contains("transforms.r.replacement") && e.contains("no group 2"),
        "{e}"
    );
}

#[test]
fn read_keys_are_reported() {
    let (_, used) = from_properties(&props(&[
        ("transforms", "u"),
        ("transforms.u.type", EXTRACT_NEW_RECORD_STATE),
        ("transforms.u.add.headers", "op"),
        ("transforms.u.predicate", "p"),
        ("predicates", "p"),
        ("predicates.p.type", predicates::RECORD_IS_TOMBSTONE),
    ]))
    .unwrap();
    for key in [
        "transforms",
        "transforms.u.type",
        "transforms.u.add.headers",
        "transforms.u.predicate",
        "predicates",
        "predicates.p.type",
    ] {
        assert!(used.contains(&key.to_owned()), "{key} in {used:?}");
    }
}
