//! `io.keel.transforms.FilterByField` (ours, ADR 0032): keeps a record only when a field of
//! its value is one of `values`, for "op in (c,u)" or "table in (...)" filters without a
//! scripting language. `field` is a dotted path: `op`, `source.table`, `after.status` in a
//! change event, a column after `ExtractNewRecordState`. Tombstones and records that are not
//! change events or rows (heartbeats, transaction and schema change records) pass unchanged.

use serde_json::Value as Json;

use super::{ConnectRecord, Options, Payload, Transformation};
use crate::{Error, Result};

/// Keeps records whose field is one of a set of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterByField {
    /// The dotted path of the field.
    pub field: Vec<String>,
    /// The values kept, as text (`null` for a null field).
    pub values: Vec<String>,
}

impl FilterByField {
    /// From `field` and `values`.
    pub fn from_options(opts: &mut Options<'_>) -> Result<Self> {
        let field = opts.required("field", "a dotted field path, e.g. `op` or `source.table`")?;
        let values = opts.list("values");
        if values.is_empty() {
            return Err(Error::MissingKey {
                key: opts.key("values"),
                hint: "the comma-separated values to keep, e.g. `c,u`".into(),
            });
        }
        Ok(Self {
            field: field.split('.').map(str::to_owned).collect(),
            values,
        })
    }

    fn text(value: &Json) -> String {
        match value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl Transformation for FilterByField {
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let value = match &record.value {
            Some(v @ (Payload::Envelope { .. } | Payload::Row(_) | Payload::Json(_))) => v,
            _ => return Ok(Some(record)),
        };
        let Some((first, rest)) = self.field.split_first() else {
            return Ok(Some(record));
        };
        let found = value
            .field(first)
            .and_then(|v| rest.iter().try_fold(v, |v, k| v.get(k).cloned()))
            .unwrap_or(Json::Null);
        let text = Self::text(&found);
        Ok(self.values.contains(&text).then_some(record))
    }

    fn reshapes_value(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::tests::{props, record};

    fn filter(field: &str, values: &str) -> FilterByField {
        let props = props(&[
            ("transforms.f.field", field),
            ("transforms.f.values", values),
        ]);
        FilterByField::from_options(&mut Options::new("transforms.f", &props)).unwrap()
    }

    #[test]
    fn keeps_only_the_listed_values() {
        let f = filter("op", "c,u");
        assert!(f.apply(record("c")).unwrap().is_some());
        assert!(f.apply(record("u")).unwrap().is_some());
        assert!(f.apply(record("d")).unwrap().is_none());
        let f = filter("source.table", "t");
        assert!(f.apply(record("d")).unwrap().is_some());
        let f = filter("after.v", "2");
        assert!(f.apply(record("c")).unwrap().is_some());
        assert!(f.apply(record("d")).unwrap().is_none(), "after is null");
    }

    #[test]
    fn tombstones_pass_and_values_are_required() {
        let mut tombstone = record("d");
        tombstone.value = None;
        assert!(filter("op", "c").apply(tombstone).unwrap().is_some());
        let props = props(&[("transforms.f.field", "op")]);
        let err = FilterByField::from_options(&mut Options::new("transforms.f", &props))
            .unwrap_err()
            .to_string();
        assert!(err.contains("transforms.f.values"), "{err}");
    }
}
