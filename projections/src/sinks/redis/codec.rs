//! Documents to and from Redis values.

use serde_json::{Map, Value};

/// The hash fields of a document: strings as they are, other values as JSON text. `None` when
/// the document is not a JSON object.
pub(crate) fn to_fields(doc: &Value) -> Option<Vec<(String, String)>> {
    let Value::Object(map) = doc else {
        return None;
    };
    Some(
        map.iter()
            .map(|(field, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (field.clone(), text)
            })
            .collect(),
    )
}

/// A document from its hash fields: a field that reads as a JSON number, boolean, null, array or
/// object is that value; anything else is a string.
pub(crate) fn from_fields(fields: Vec<(String, String)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .map(|(field, text)| {
            let value = match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(_)) | Err(_) => Value::String(text),
                Ok(value) => value,
            };
            (field, value)
        })
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hash_fields_round_trip() {
        let doc = json!({"status": "cancelled", "total": 42, "paid": true, "lines": [1, 2], "note": null});
        let fields = to_fields(&doc).unwrap();
        assert!(fields.contains(&("status".into(), "cancelled".into())));
        assert!(fields.contains(&("total".into(), "42".into())));
        assert_eq!(from_fields(fields), doc);
    }

    #[test]
    fn a_quoted_string_stays_a_string_and_non_objects_have_no_fields() {
        let fields = vec![("name".to_owned(), "\"ada\"".to_owned())];
        assert_eq!(from_fields(fields), json!({"name": "\"ada\""}));
        assert!(to_fields(&json!(5)).is_none());
    }
}
