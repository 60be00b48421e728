//! `io.debezium.transforms.outbox.EventRouter`: inserts into an outbox table become events on
//! `outbox.event.<aggregatetype>`, keyed by `aggregateid`, valued by `payload`, with the
//! event id in header `id` (Debezium's default column names and options). Deletes and
//! tombstones are dropped; updates are dropped with a warning (`table.op.invalid.behavior`).
//! Records that are not change events (heartbeats, ...) pass unchanged; give the transform a
//! predicate (`TopicNameMatches`) when other tables are captured too.

use regex::Regex;
use serde_json::Value as Json;
use tracing::{error, warn};

use super::java_replacement::Replacement;
use super::predicates::whole_match;
use super::{ConnectRecord, Header, Options, Payload, Transformation};
use crate::envelope::Row;
use crate::{Error, Result};

/// What an update of the outbox table does (`table.op.invalid.behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidOp {
    /// Log a warning and drop it (default).
    Warn,
    /// Log an error and drop it.
    Error,
    /// Stop capture.
    Fatal,
}

/// Where an additional column goes (`table.fields.additional.placement`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    column: String,
    in_header: bool,
    name: String,
}

/// The outbox event router.
#[derive(Debug, Clone)]
pub struct EventRouter {
    id: String,
    key: String,
    payload: String,
    route_by: String,
    route_regex: Regex,
    route_replacement: Replacement,
    expand_json: bool,
    tombstone_on_empty: bool,
    invalid_op: InvalidOp,
    additional: Vec<Placement>,
}

impl EventRouter {
    /// From Debezium's options; each defaults as in Debezium.
    pub fn from_options(opts: &mut Options<'_>) -> Result<Self> {
        let route_regex = whole_match(
            &opts.key("route.topic.regex"),
            &opts.get_or("route.topic.regex", "(?<routedByValue>.*)"),
        )?;
        let replacement = opts.get_or("route.topic.replacement", "outbox.event.${routedByValue}");
        let route_replacement = Replacement::parse(&replacement, &route_regex).map_err(|why| {
            Error::config(
                &opts.key("route.topic.replacement"),
                replacement.clone(),
                why,
            )
        })?;
        let invalid_key = opts.key("table.op.invalid.behavior");
        let invalid_op = match opts.get("table.op.invalid.behavior").as_deref() {
            None | Some("warn") => InvalidOp::Warn,
            Some("error") => InvalidOp::Error,
            Some("fatal") => InvalidOp::Fatal,
            Some(other) => return Err(Error::config(&invalid_key, other, "warn, error, fatal")),
        };
        let placement_key = opts.key("table.fields.additional.placement");
        let mut additional = Vec::new();
        for spec in opts.list("table.fields.additional.placement") {
            let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
            let (column, place, alias) = match parts.as_slice() {
                [c, p] => (*c, *p, *c),
                [c, p, a] => (*c, *p, *a),
                _ => {
                    return Err(Error::config(
                        &placement_key,
                        spec.clone(),
                        "`column:header|envelope[:alias]` pairs, comma-separated",
                    ));
                }
            };
            let in_header = match place {
                "header" => true,
                "envelope" => false,
                other => {
                    return Err(Error::config(
                        &placement_key,
                        other,
                        "the placements `header` or `envelope` (`partition` is not built)",
                    ));
                }
            };
            additional.push(Placement {
                column: column.to_owned(),
                in_header,
                name: alias.to_owned(),
            });
        }
        Ok(Self {
            id: opts.get_or("table.field.event.id", "id"),
            key: opts.get_or("table.field.event.key", "aggregateid"),
            payload: opts.get_or("table.field.event.payload", "payload"),
            route_by: opts.get_or("route.by.field", "aggregatetype"),
            route_regex,
            route_replacement,
            expand_json: opts.bool("table.expand.json.payload", false)?,
            tombstone_on_empty: opts.bool("route.tombstone.on.empty.payload", false)?,
            invalid_op,
            additional,
        })
    }

    fn column<'r>(row: &'r Row, name: &str, table: &str) -> Result<&'r Json, String> {
        row.0
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the outbox table `{table}` has no column `{name}`"))
    }
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Transformation for EventRouter {
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let Some(value) = &record.value else {
            return Ok(None);
        };
        let Some(env) = value.as_envelope() else {
            return Ok(Some(record));
        };
        let table = format!("{}.{}", env.source.db, env.source.table);
        match env.op {
            "d" => return Ok(None),
            "u" => {
                let msg = format!(
                    "an UPDATE of the outbox table `{table}` (outbox rows are inserted only)"
                );
                match self.invalid_op {
                    InvalidOp::Warn => warn!(table = %table, "Outbox update ignored: {msg}."),
                    InvalidOp::Error => error!(table = %table, "Outbox update ignored: {msg}."),
                    InvalidOp::Fatal => return Err(msg),
                }
                return Ok(None);
            }
            _ => {}
        }
        let Some(row) = env.after.as_ref() else {
            return Ok(None);
        };
        let id = Self::column(row, &self.id, &table)?;
        let key = Self::column(row, &self.key, &table)?;
        let route_by = text(Self::column(row, &self.route_by, &table)?);
        let mut payload = Self::column(row, &self.payload, &table)?.clone();
        if self.expand_json
            && let Json::String(s) = &payload
            && let Ok(expanded) = serde_json::from_str::<Json>(s)
        {
            payload = expanded;
        }
        let empty = payload.is_null() || payload.as_str().is_some_and(str::is_empty);
        let topic = self
            .route_regex
            .captures(&route_by)
            .map_or(record.topic.clone(), |caps| {
                self.route_replacement.expand(&caps)
            });
        let mut headers = record.headers.clone();
        headers.push(Header::from_json("id", id));
        let mut envelope_fields = Vec::new();
        for p in &self.additional {
            let v = Self::column(row, &p.column, &table)?;
            if p.in_header {
                headers.push(Header::from_json(p.name.clone(), v));
            } else {
                envelope_fields.push((p.name.clone(), v.clone()));
            }
        }
        let value = if empty && self.tombstone_on_empty {
            None
        } else if envelope_fields.is_empty() {
            Some(Payload::Json(payload))
        } else {
            let mut fields = vec![("payload".to_owned(), payload)];
            fields.extend(envelope_fields);
            Some(Payload::Row(Row(fields
                .into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect())))
        };
        Ok(Some(ConnectRecord {
            topic,
            key: if key.is_null() {
                record.key
            } else {
                Some(Payload::Json(key.clone()))
            },
            value,
            headers,
        }))
    }

    fn reshapes_value(&self) -> bool {
        true
    }

    fn reshapes_key(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::tests::{envelope, props, source_record};
    use serde_json::json;

    fn outbox(op: &'static str) -> ConnectRecord {
        let row = Row(vec![
            ("id".into(), json!("e-1")),
            ("aggregatetype".into(), json!("Order")),
            ("aggregateid".into(), json!("42")),
            ("type".into(), json!("OrderCreated")),
            ("payload".into(), json!("{\"total\": 5}")),
        ]);
        let mut env = envelope(op);
        env.before = (op != "c").then(|| row.clone());
        env.after = (op != "d").then_some(row);
        source_record(env)
    }

    fn router(pairs: &[(&str, &str)]) -> EventRouter {
        let props = props(pairs);
        EventRouter::from_options(&mut Options::new("transforms.o", &props)).unwrap()
    }

    #[test]
    fn routes_an_insert_by_aggregate_type() {
        let out = router(&[]).apply(outbox("c")).unwrap().unwrap();
        assert_eq!(out.topic, "outbox.event.Order");
        assert_eq!(out.key, Some(Payload::Json(json!("42"))));
        assert_eq!(out.value, Some(Payload::Json(json!("{\"total\": 5}"))));
        assert_eq!(out.headers, [Header::text("id", "e-1")]);
    }

    #[test]
    fn deletes_updates_and_tombstones_are_dropped() {
        let r = router(&[]);
        assert_eq!(r.apply(outbox("d")).unwrap(), None);
        assert_eq!(r.apply(outbox("u")).unwrap(), None);
        let mut tombstone = outbox("c");
        tombstone.value = None;
        assert_eq!(r.apply(tombstone).unwrap(), None);
        let fatal = router(&[("transforms.o.table.op.invalid.behavior", "fatal")]);
        assert!(fatal.apply(outbox("u")).unwrap_err().contains("UPDATE"));
    }

    #[test]
    fn options_expand_the_payload_and_place_columns() {
        let r = router(&[
            ("transforms.o.table.expand.json.payload", "true"),
            (
                "transforms.o.route.topic.replacement",
                "events.${routedByValue}",
            ),
            (
                "transforms.o.table.fields.additional.placement",
                "type:header:eventType,aggregateid:envelope",
            ),
        ]);
        let out = r.apply(outbox("c")).unwrap().unwrap();
        assert_eq!(out.topic, "events.Order");
        assert_eq!(
            out.value.unwrap().to_bytes(None).unwrap(),
            br#"{"payload":{"total":5},"aggregateid":"42"}"#
        );
        assert_eq!(out.headers[1], Header::text("eventType", "OrderCreated"));
    }

    #[test]
    fn a_table_without_the_columns_is_an_error_naming_them() {
        let err = router(&[("transforms.o.table.field.event.id", "event_id")])
            .apply(outbox("c"))
            .unwrap_err();
        assert!(err.contains("event_id") && err.contains("d.t"), "{err}");
    }
}
