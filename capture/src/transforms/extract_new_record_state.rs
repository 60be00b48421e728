//! `io.debezium.transforms.ExtractNewRecordState`: the value becomes the row itself; envelope
//! fields can be appended (`add.fields`) or set as headers (`add.headers`).

use serde_json::Value as Json;

use super::{ConnectRecord, Header, Options, Payload, Transformation};
use crate::envelope::{Envelope, Row};
use crate::{Error, Result};

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
    /// `add.headers`: envelope or source fields set as headers.
    pub add_headers: Vec<String>,
    /// `add.headers.prefix` (default `__`).
    pub headers_prefix: String,
}

impl ExtractNewRecordState {
    /// From `delete.tombstone.handling.mode`, `add.fields`, `add.fields.prefix`,
    /// `add.headers` and `add.headers.prefix`.
    pub fn from_options(opts: &mut Options<'_>) -> Result<Self> {
        let mode_key = opts.key("delete.tombstone.handling.mode");
        let delete_handling = match opts.get("delete.tombstone.handling.mode").as_deref() {
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
        Ok(Self {
            delete_handling,
            add_fields: opts.list("add.fields"),
            prefix: opts.get_or("add.fields.prefix", "__"),
            add_headers: opts.list("add.headers"),
            headers_prefix: opts.get_or("add.headers.prefix", "__"),
        })
    }

    /// Whether tombstones pass.
    pub fn keeps_tombstones(&self) -> bool {
        matches!(
            self.delete_handling,
            DeleteHandling::Tombstone | DeleteHandling::RewriteWithTombstone
        )
    }

    /// The new value of a change event, `None` to drop it.
    pub fn unwrap(&self, env: &Envelope) -> Option<Row> {
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
            row.0.push((
                format!("{}{}", self.prefix, field.replace('.', "_")).into(),
                envelope_field(env, &source, field),
            ));
        }
        if rewrite {
            let deleted = if env.op == "d" { "true" } else { "false" };
            row.0.push((
                format!("{}deleted", self.prefix).into(),
                Json::from(deleted),
            ));
        }
        Some(row)
    }
}

/// `op`, `ts_ms`, `ts_us`, `ts_ns` of the envelope, or a field of `source` (`source.<f>` or a
/// bare name).
fn envelope_field(env: &Envelope, source: &Json, field: &str) -> Json {
    match field {
        "op" => Json::from(env.op),
        "ts_ms" => Json::from(env.ts_ms),
        "ts_us" => Json::from(env.ts_us),
        "ts_ns" => Json::from(env.ts_ns),
        other => source
            .get(other.strip_prefix("source.").unwrap_or(other))
            .cloned()
            .unwrap_or(Json::Null),
    }
}

impl Transformation for ExtractNewRecordState {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let Some(value) = &record.value else {
            return Ok(self.keeps_tombstones().then_some(record));
        };
        // Heartbeats, transaction and schema change records pass unchanged, as in Debezium.
        let Some(env) = value.as_envelope() else {
            return Ok(Some(record));
        };
        if !self.add_headers.is_empty() {
            let source = serde_json::to_value(&env.source).unwrap_or(Json::Null);
            for field in &self.add_headers {
                record.headers.push(Header::from_json(
                    format!("{}{}", self.headers_prefix, field.replace('.', "_")),
                    &envelope_field(env, &source, field),
                ));
            }
        }
        Ok(self.unwrap(env).map(|row| ConnectRecord {
            value: Some(Payload::Row(row)),
            ..record
        }))
    }

    fn reshapes_value(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::tests::{envelope, props, record};
    use serde_json::json;

    fn transform(pairs: &[(&str, &str)]) -> ExtractNewRecordState {
        let props = props(pairs);
        ExtractNewRecordState::from_options(&mut Options::new("transforms.u", &props)).unwrap()
    }

    #[test]
    fn unwraps_after_and_adds_fields() {
        let t = transform(&[(
            "transforms.u.add.fields",
            "op,ts_ms,source.ts_ms,source.db,table",
        )]);
        let row = t.unwrap(&envelope("u")).unwrap();
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            json!({"id": 1, "v": 2, "__op": "u", "__ts_ms": 7, "__source_ts_ms": 5, "__source_db": "d", "__table": "t"})
        );
        assert_eq!(t.unwrap(&envelope("d")), None);
        assert!(t.keeps_tombstones());
    }

    #[test]
    fn rewrite_marks_deletes() {
        let t = transform(&[("transforms.u.delete.tombstone.handling.mode", "rewrite")]);
        let del = serde_json::to_value(t.unwrap(&envelope("d")).unwrap()).unwrap();
        assert_eq!(del, json!({"id": 1, "v": 1, "__deleted": "true"}));
        let ins = serde_json::to_value(t.unwrap(&envelope("c")).unwrap()).unwrap();
        assert_eq!(ins["__deleted"], "false");
        assert!(!t.keeps_tombstones());
        let mut tombstone = record("c");
        tombstone.value = None;
        assert_eq!(t.apply(tombstone).unwrap(), None);
    }

    #[test]
    fn add_headers_sets_debezium_named_headers() {
        let t = transform(&[("transforms.u.add.headers", "op,source.table,ts_ms")]);
        let out = t.apply(record("c")).unwrap().unwrap();
        let headers: Vec<(&str, Option<&[u8]>)> = out
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        assert_eq!(
            headers,
            [
                ("__op", Some(&b"c"[..])),
                ("__source_table", Some(&b"t"[..])),
                ("__ts_ms", Some(&b"7"[..]))
            ]
        );
        assert_eq!(
            out.value,
            Some(Payload::Row(Row(vec![
                ("id".into(), json!(1)),
                ("v".into(), json!(2))
            ])))
        );
    }

    #[test]
    fn a_bad_mode_names_its_key() {
        let props = props(&[("transforms.u.delete.tombstone.handling.mode", "keep")]);
        let err = ExtractNewRecordState::from_options(&mut Options::new("transforms.u", &props))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("transforms.u.delete.tombstone.handling.mode")
                && err.contains("rewrite-with-tombstone"),
            "{err}"
        );
    }

    #[test]
    fn encoded_values_pass_unchanged() {
        let t = transform(&[]);
        let mut heartbeat = record("c");
        heartbeat.value = Some(Payload::Encoded(b"{}".to_vec()));
        assert_eq!(t.apply(heartbeat.clone()).unwrap(), Some(heartbeat));
    }
}
