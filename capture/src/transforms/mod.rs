//! Single message transforms, by their Kafka Connect / Debezium names. Only
//! `io.debezium.transforms.ExtractNewRecordState` so far.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::envelope::{Envelope, Row};
use crate::{Error, Result};

/// `io.debezium.transforms.ExtractNewRecordState`'s type name.
pub const EXTRACT_NEW_RECORD_STATE: &str = "io.debezium.transforms.ExtractNewRecordState";

/// `delete.tombstone.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteHandling {
    /// Drop delete events, keep tombstones (default).
    Tombstone,
    /// Drop delete events and tombstones.
    Drop,
    /// Delete events become the `before` row with `__deleted: "true"`; tombstones dropped.
    Rewrite,
    /// As `Rewrite`, and tombstones kept.
    RewriteWithTombstone,
}

/// `ExtractNewRecordState`: the value becomes the row itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractNewRecordState {
    /// What happens to deletes and tombstones.
    pub delete_handling: DeleteHandling,
    /// `add.fields`: envelope or source fields appended to the row.
    pub add_fields: Vec<String>,
    /// `add.fields.prefix` (default `__`).
    pub prefix: String,
}

impl ExtractNewRecordState {
    /// Parses the options of transform `name` from the connector properties, returning the
    /// keys it read.
    pub fn from_properties(
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>)> {
        let key = |opt: &str| format!("transforms.{name}.{opt}");
        let mut used = vec![key("type")];
        let mut get = |opt: &str| {
            let k = key(opt);
            let v = props.get(&k).cloned();
            if v.is_some() {
                used.push(k);
            }
            v
        };
        let mode_key = key("delete.tombstone.handling.mode");
        let delete_handling = match get("delete.tombstone.handling.mode").as_deref() {
            None | Some("tombstone") => DeleteHandling::Tombstone,
            Some("drop") => DeleteHandling::Drop,
            Some("rewrite") => DeleteHandling::Rewrite,
            Some("rewrite-with-tombstone") => DeleteHandling::RewriteWithTombstone,
            Some(other) => {
                return Err(Error::config(
                    &mode_key,
                    other,
                    "tombstone, drop, rewrite, rewrite-with-tombstone",
                ));
            }
        };
        let add_fields = get("add.fields")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let prefix = get("add.fields.prefix").unwrap_or_else(|| "__".to_owned());
        Ok((
            Self {
                delete_handling,
                add_fields,
                prefix,
            },
            used,
        ))
    }

    /// Whether tombstones pass.
    pub fn keeps_tombstones(&self) -> bool {
        matches!(
            self.delete_handling,
            DeleteHandling::Tombstone | DeleteHandling::RewriteWithTombstone
        )
    }

    /// The new value of a change event, `None` to drop it.
    pub fn apply(&self, env: &Envelope) -> Option<Row> {
        let rewrite = matches!(
            self.delete_handling,
            DeleteHandling::Rewrite | DeleteHandling::RewriteWithTombstone
        );
        let mut row = if env.op == "d" {
            if !rewrite {
                return None;
            }
            env.before.clone()?
        } else {
            env.after.clone()?
        };
        let source = serde_json::to_value(&env.source).unwrap_or(Json::Null);
        for field in &self.add_fields {
            let value = match field.as_str() {
                "op" => Json::from(env.op),
                "ts_ms" => Json::from(env.ts_ms),
                "ts_us" => Json::from(env.ts_us),
                "ts_ns" => Json::from(env.ts_ns),
                other => source
                    .get(other.strip_prefix("source.").unwrap_or(other))
                    .cloned()
                    .unwrap_or(Json::Null),
            };
            row.0
                .push((format!("{}{}", self.prefix, field.replace('.', "_")), value));
        }
        if rewrite {
            let deleted = if env.op == "d" { "true" } else { "false" };
            row.0
                .push((format!("{}deleted", self.prefix), Json::from(deleted)));
        }
        Some(row)
    }
}

/// Parses `transforms` and each transform's keys; returns the transform (at most one) and
/// every key it read.
pub fn from_properties(
    props: &BTreeMap<String, String>,
) -> Result<(Option<ExtractNewRecordState>, Vec<String>)> {
    let Some(list) = props.get("transforms").filter(|v| !v.trim().is_empty()) else {
        return Ok((None, Vec::new()));
    };
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() > 1 {
        return Err(Error::config(
            "transforms",
            list.clone(),
            format!(
                "one transform of type {EXTRACT_NEW_RECORD_STATE} (chains are not supported yet)"
            ),
        ));
    }
    let name = names[0];
    let type_key = format!("transforms.{name}.type");
    match props.get(&type_key).map(String::as_str) {
        Some(EXTRACT_NEW_RECORD_STATE) => {
            let (t, mut used) = ExtractNewRecordState::from_properties(name, props)?;
            used.push("transforms".to_owned());
            Ok((Some(t), used))
        }
        other => Err(Error::config(
            &type_key,
            other.unwrap_or(""),
            EXTRACT_NEW_RECORD_STATE,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn envelope(op: &'static str) -> Envelope {
        let row = |v: i64| Row(vec![("id".into(), json!(1)), ("v".into(), json!(v))]);
        Envelope {
            before: (op != "c").then(|| row(1)),
            after: (op != "d").then(|| row(2)),
            source: crate::envelope::Source {
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
        }
    }

    #[test]
    fn unwraps_after_and_adds_fields() {
        let (t, used) = from_properties(&props(&[
            ("transforms", "unwrap"),
            ("transforms.unwrap.type", EXTRACT_NEW_RECORD_STATE),
            (
                "transforms.unwrap.add.fields",
                "op,ts_ms,source.ts_ms,source.db,table",
            ),
        ]))
        .unwrap();
        let t = t.unwrap();
        assert!(used.contains(&"transforms.unwrap.add.fields".to_owned()));
        let row = t.apply(&envelope("u")).unwrap();
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            json!({"id": 1, "v": 2, "__op": "u", "__ts_ms": 7, "__source_ts_ms": 5, "__source_db": "d", "__table": "t"})
        );
        assert_eq!(t.apply(&envelope("d")), None);
        assert!(t.keeps_tombstones());
    }

    #[test]
    fn rewrite_marks_deletes() {
        let (t, _) = ExtractNewRecordState::from_properties(
            "u",
            &props(&[("transforms.u.delete.tombstone.handling.mode", "rewrite")]),
        )
        .unwrap();
        let del = serde_json::to_value(t.apply(&envelope("d")).unwrap()).unwrap();
        assert_eq!(del, json!({"id": 1, "v": 1, "__deleted": "true"}));
        let ins = serde_json::to_value(t.apply(&envelope("c")).unwrap()).unwrap();
        assert_eq!(ins["__deleted"], "false");
        assert!(!t.keeps_tombstones());
    }

    #[test]
    fn bad_types_and_modes_are_named() {
        let err = from_properties(&props(&[
            ("transforms", "r"),
            (
                "transforms.r.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("transforms.r.type") && err.contains("ExtractNewRecordState"),
            "{err}"
        );
        let err = from_properties(&props(&[
            ("transforms", "u"),
            ("transforms.u.type", EXTRACT_NEW_RECORD_STATE),
            ("transforms.u.delete.tombstone.handling.mode", "keep"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("rewrite-with-tombstone"), "{err}");
        assert!(from_properties(&props(&[("transforms", "a,b")])).is_err());
    }
}
