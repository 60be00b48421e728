//! `org.apache.kafka.connect.transforms.InsertField$Value`: appends a constant
//! (`static.field` = `static.value`) and/or the record's topic (`topic.field`) to the value.

use serde_json::Value as Json;

use super::{ConnectRecord, Options, Payload, Transformation};
use crate::Result;

/// Appends fields to values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertField {
    /// `static.field` and `static.value`.
    pub static_field: Option<(String, String)>,
    /// `topic.field`.
    pub topic_field: Option<String>,
}

/// A field name as Kafka Connect writes it, with its optional `!`/`?` suffix removed.
fn field_name(spec: String) -> String {
    spec.trim_end_matches(['!', '?']).to_owned()
}

impl InsertField {
    /// From `static.field`, `static.value` and `topic.field`; `offset.field`,
    /// `partition.field` and `timestamp.field` are refused.
    pub fn from_options(opts: &mut Options<'_>) -> Result<Self> {
        opts.refuse(
            "offset.field",
            "nothing here: Kafka Connect allows it only for sink connectors",
        )?;
        opts.refuse(
            "partition.field",
            "nothing yet: the partition is chosen by the producer after transforms",
        )?;
        opts.refuse("timestamp.field", "nothing yet (not built)")?;
        let static_field = match opts.get("static.field") {
            Some(field) => Some((
                field_name(field),
                opts.required("static.value", "the value written to `static.field`")?,
            )),
            None => {
                opts.refuse("static.value", "nothing without `static.field`")?;
                None
            }
        };
        Ok(Self {
            static_field,
            topic_field: opts.get("topic.field").map(field_name),
        })
    }
}

impl Transformation for InsertField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let mut fields = Vec::new();
        if let Some(name) = &self.topic_field {
            fields.push((name.clone(), Json::from(record.topic.clone())));
        }
        if let Some((name, value)) = &self.static_field {
            fields.push((name.clone(), Json::from(value.clone())));
        }
        match &mut record.value {
            Some(Payload::Envelope { extra, .. }) => {
                extra
                    .0
                    .extend(fields.into_iter().map(|(k, v)| (k.into(), v)));
            }
            Some(Payload::Row(row)) => row.0.extend(fields.into_iter().map(|(k, v)| (k.into(), v))),
            Some(Payload::Json(Json::Object(map))) => map.extend(fields),
            Some(Payload::Json(other)) => {
                return Err(format!(
                    "InsertField$Value needs an object value, not {other}"
                ));
            }
            // Tombstones and records already written (heartbeats, ...) pass unchanged.
            Some(Payload::Encoded(_)) | None => {}
        }
        Ok(Some(record))
    }

    fn reshapes_value(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::tests::{props, record};
    use serde_json::json;

    #[test]
    fn appends_a_constant_and_the_topic() {
        let props = props(&[
            ("transforms.i.static.field", "origin"),
            ("transforms.i.static.value", "keel"),
            ("transforms.i.topic.field", "topic!"),
        ]);
        let t = InsertField::from_options(&mut Options::new("transforms.i", &props)).unwrap();
        let out = t.apply(record("c")).unwrap().unwrap();
        let value: Json =
            serde_json::from_slice(&out.value.as_ref().unwrap().to_bytes(None).unwrap()).unwrap();
        assert_eq!(value["origin"], "keel");
        assert_eq!(value["topic"], "p.d.t");
        assert_eq!(value["op"], "c", "the envelope stays as it was");
        let text = String::from_utf8(out.value.unwrap().to_bytes(None).unwrap()).unwrap();
        assert!(
            text.ends_with(r#""topic":"p.d.t","origin":"keel"}"#),
            "{text}"
        );

        let mut row = record("c");
        row.value = Some(Payload::Row(crate::envelope::Row(vec![(
            "id".into(),
            json!(1),
        )])));
        let out = t.apply(row).unwrap().unwrap();
        assert_eq!(
            out.value.unwrap().to_bytes(None).unwrap(),
            br#"{"id":1,"topic":"p.d.t","origin":"keel"}"#
        );
    }

    #[test]
    fn offset_field_is_refused_as_kafka_connect_does_for_sources() {
        let props = props(&[("transforms.i.offset.field", "o")]);
        let err = InsertField::from_options(&mut Options::new("transforms.i", &props))
            .unwrap_err()
            .to_string();
        assert!(err.contains("transforms.i.offset.field"), "{err}");
    }
}
