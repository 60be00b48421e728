//! Creating the index with its mapping, and checking an existing index's mapping.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::client::{Body, Client, refused};
use crate::{Error, Result};

/// Creates `index` with `properties` when it does not exist; otherwise checks that every field
/// of `properties` has the same type in the index (a difference is
/// [`Error::MappingConflict`] naming the field) and adds the fields the index lacks.
pub(crate) async fn ensure_index(
    client: &Client,
    index: &str,
    properties: Option<&Value>,
) -> Result<()> {
    let reply = client
        .send(Method::GET, &format!("{index}/_mapping"), None)
        .await?;
    if reply.status == StatusCode::NOT_FOUND {
        let body = match properties {
            Some(p) => json!({ "mappings": { "properties": p } }),
            None => json!({}),
        };
        let created = client
            .send(Method::PUT, index, Some(Body::Json(body)))
            .await?;
        if created.status.is_success() {
            tracing::info!(index, "Index created.");
            return Ok(());
        }
        if created.body["error"]["type"] != "resource_already_exists_exception" {
            return Err(refused(&format!("creating index `{index}`"), &created));
        }
        // Created concurrently by another runner: check it like any existing index.
        return Box::pin(ensure_index(client, index, properties)).await;
    }
    if !reply.status.is_success() {
        return Err(refused(
            &format!("reading the mapping of `{index}`"),
            &reply,
        ));
    }
    let Some(expected) = properties.and_then(Value::as_object) else {
        return Ok(());
    };
    // The reply is keyed by the concrete index (the alias's target when `index` is an alias).
    let actual = reply
        .body
        .as_object()
        .and_then(|indices| indices.values().next())
        .map(|i| &i["mappings"]["properties"])
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut missing = Map::new();
    compare(index, "", expected, &actual, &mut missing)?;
    if missing.is_empty() {
        return Ok(());
    }
    let added = client
        .send(
            Method::PUT,
            &format!("{index}/_mapping"),
            Some(Body::Json(json!({ "properties": missing }))),
        )
        .await?;
    if !added.status.is_success() {
        return Err(refused(
            &format!("adding fields to the mapping of `{index}`"),
            &added,
        ));
    }
    Ok(())
}

/// Compares field types recursively; fields absent from `actual` go to `missing`.
fn compare(
    index: &str,
    prefix: &str,
    expected: &Map<String, Value>,
    actual: &Map<String, Value>,
    missing: &mut Map<String, Value>,
) -> Result<()> {
    for (field, want) in expected {
        let path = if prefix.is_empty() {
            field.clone()
        } else {
            format!("{prefix}.{field}")
        };
        let Some(have) = actual.get(field) else {
            if prefix.is_empty() {
                missing.insert(field.clone(), want.clone());
            } else {
                // A missing sub-field: let Elasticsearch merge the whole object.
                missing.insert(
                    path.split('.').next().unwrap_or(field).to_owned(),
                    want.clone(),
                );
            }
            continue;
        };
        let (want_type, have_type) = (type_of(want), type_of(have));
        if want_type != have_type {
            return Err(Error::MappingConflict {
                index: index.to_owned(),
                field: path,
                expected: want_type.to_owned(),
                actual: have_type.to_owned(),
            });
        }
        if let (Some(want_props), Some(have_props)) = (
            want["properties"].as_object(),
            have["properties"].as_object(),
        ) {
            compare(index, &path, want_props, have_props, missing)?;
        }
    }
    Ok(())
}

/// A field's type; an object mapping without one is `object`.
fn type_of(mapping: &Value) -> &str {
    mapping["type"].as_str().unwrap_or("object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_type_difference_names_the_dotted_field() {
        let expected = map(json!({"customer": {"properties": {"age": {"type": "integer"}}}}));
        let actual = map(json!({"customer": {"properties": {"age": {"type": "keyword"}}}}));
        let err = compare("i", "", &expected, &actual, &mut Map::new()).unwrap_err();
        match err {
            Error::MappingConflict {
                field,
                expected,
                actual,
                ..
            } => {
                assert_eq!(
                    (field.as_str(), expected.as_str(), actual.as_str()),
                    ("customer.age", "integer", "keyword")
                );
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn missing_fields_are_collected_and_equal_types_pass() {
        let expected = map(json!({"a": {"type": "long"}, "b": {"type": "keyword"}}));
        let actual = map(json!({"a": {"type": "long"}}));
        let mut missing = Map::new();
        compare("i", "", &expected, &actual, &mut missing).unwrap();
        assert_eq!(Value::Object(missing), json!({"b": {"type": "keyword"}}));
    }
}
