//! Field-by-field comparison of two topics' records: ours against Debezium's.

use serde_json::{Map, Value as Json};

/// Top-level fields that are processing time: they differ between any two runs.
const PROCESSING_TIME: [&str; 3] = ["ts_ms", "ts_us", "ts_ns"];
/// `source` fields that name the connector and its version: they must differ.
const CONNECTOR_IDENTITY: [&str; 3] = ["version", "connector", "name"];
/// `source` fields of a snapshot read (`op` `r`, or a schema change event of the schema
/// snapshot) that depend on when each connector took its own snapshot: the read time and the
/// binlog position of the cut. The two snapshots run moments apart on a server other tests
/// write to, so only their presence is compared.
const SNAPSHOT_MOMENT: [&str; 6] = ["ts_ms", "ts_us", "ts_ns", "file", "pos", "gtid"];

/// A value with the fields that must differ blanked out (kept as `"<ignored>"` when present,
/// so a field missing on one side is still a difference).
fn normalized(value: &Json) -> Json {
    // With `schemas.enable=true`: `{"schema": …, "payload": …}`.
    if let Some(payload) = value.get("payload")
        && value.get("schema").is_some()
    {
        let mut value = value.clone();
        value["payload"] = normalized(payload);
        return value;
    }
    let mut value = value.clone();
    let Some(obj) = value.as_object_mut() else {
        return value;
    };
    // Snapshot reads, and schema change events of each connector's schema snapshot.
    let snapshot = obj.get("op").and_then(Json::as_str) == Some("r")
        || (obj.contains_key("ddl")
            && obj
                .get("source")
                .and_then(|s| s.get("snapshot"))
                .is_some_and(|s| s != "false"));
    blank(obj, &PROCESSING_TIME);
    if let Some(source) = obj.get_mut("source").and_then(Json::as_object_mut) {
        blank(source, &CONNECTOR_IDENTITY);
        if snapshot {
            blank(source, &SNAPSHOT_MOMENT);
        }
    }
    value
}

fn blank(obj: &mut Map<String, Json>, fields: &[&str]) {
    for f in fields {
        if let Some(v) = obj.get_mut(*f) {
            *v = Json::String("<ignored>".into());
        }
    }
}

/// Every difference between `ours` and `theirs` at `path`: values and missing fields (not
/// field order: serde_json's map here is sorted).
fn diff(path: &str, ours: &Json, theirs: &Json, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Json::Object(a), Json::Object(b)) => {
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: missing in ours (Debezium: {})", b[k]));
                }
            }
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => diff(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: only in ours ({v})")),
                }
            }
        }
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        (Json::Number(a), Json::Number(b))
            if a.as_f64() == b.as_f64() && a.is_f64() != b.is_f64() =>
        {
            out.push(format!("{path}: ours {a}, Debezium {b} (number form)"));
        }
        _ if ours == theirs => {}
        _ => out.push(format!("{path}: ours {ours}, Debezium {theirs}")),
    }
}

/// `schemas.enable=true`: the Connect schemas' names start with the topic prefix, which must
/// differ; `<prefix>.` stands for it.
fn unprefixed(value: &Json, prefix: &str) -> Json {
    match value {
        Json::String(s) => match s.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            Some(rest) => Json::String(format!("<prefix>.{rest}")),
            None => value.clone(),
        },
        Json::Array(a) => Json::Array(a.iter().map(|v| unprefixed(v, prefix)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), unprefixed(v, prefix)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One side of a comparison: a topic's records and the topic prefix they were written with.
pub(crate) struct Side<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) records: &'a [(Json, Json)],
}

/// The differences between two topics' records, in order; empty when they conform.
pub(crate) fn records(topic: &str, ours: Side<'_>, theirs: Side<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let schema_free = |side: &Side<'_>| -> Vec<(Json, Json)> {
        side.records
            .iter()
            .map(|(k, v)| {
                let strip = |j: &Json| {
                    let mut j = j.clone();
                    if let Some(schema) = j.get("schema") {
                        j["schema"] = unprefixed(schema, side.prefix);
                    }
                    j
                };
                (strip(k), strip(v))
            })
            .collect()
    };
    let (ours, theirs) = (schema_free(&ours), schema_free(&theirs));
    if ours.len() != theirs.len() {
        out.push(format!(
            "{topic}: {} records in ours, {} in Debezium's",
            ours.len(),
            theirs.len()
        ));
    }
    for (i, ((ka, va), (kb, vb))) in ours.iter().zip(&theirs).enumerate() {
        diff(&format!("{topic}[{i}].key"), ka, kb, &mut out);
        diff(
            &format!("{topic}[{i}].value"),
            &normalized(va),
            &normalized(vb),
            &mut out,
        );
    }
    out
}

#[test]
fn only_the_fields_that_must_differ_are_ignored() {
    let a = serde_json::json!({"op": "c", "after": {"id": 1}, "ts_ms": 1,
        "source": {"version": "0.1.0", "name": "a", "pos": 4}});
    let b = serde_json::json!({"op": "c", "after": {"id": 1}, "ts_ms": 2,
        "source": {"version": "3.4.0.Final", "name": "b", "pos": 5}});
    let side = |records| Side {
        prefix: "p",
        records,
    };
    let d = records("t", side(&[(Json::Null, a)]), side(&[(Json::Null, b)]));
    assert_eq!(d, ["t[0].value.source.pos: ours 4, Debezium 5"]);
}
