//! The `_bulk` body for a batch of changes, and what each item's reply means.

use serde_json::{Value, json};

use crate::sink::{Change, Op, Rejected, WriteReport};
use crate::{Error, Result};

/// The newline-delimited body: `index` or `delete` per change, each with
/// `version_type: external` and the change's version.
pub(crate) fn body(index: &str, changes: &[Change]) -> String {
    let mut body = String::new();
    for change in changes {
        let meta = json!({
            "_index": index,
            "_id": change.key,
            "version": change.version,
            "version_type": "external",
        });
        match &change.op {
            Op::Upsert(doc) => {
                body.push_str(&json!({ "index": meta }).to_string());
                body.push('\n');
                body.push_str(&doc.to_string());
                body.push('\n');
            }
            Op::Delete => {
                body.push_str(&json!({ "delete": meta }).to_string());
                body.push('\n');
            }
        }
    }
    body
}

/// Reads the per-item outcomes: 2xx written (a delete of a missing document too), 409 stale
/// (the index holds the same or a newer version), 429 or 5xx retryable (the whole batch is
/// written again), anything else rejected with the server's reason.
pub(crate) fn outcome(changes: &[Change], reply: &Value) -> Result<WriteReport> {
    let items = reply["items"].as_array().map_or(&[][..], Vec::as_slice);
    if items.len() != changes.len() {
        return Err(Error::Unavailable {
            sink: "elasticsearch",
            reason: format!(
                "bulk reply has {} items for {} changes",
                items.len(),
                changes.len()
            ),
        });
    }
    let mut report = WriteReport::default();
    for (change, item) in changes.iter().zip(items) {
        let result = item
            .as_object()
            .and_then(|o| o.values().next())
            .unwrap_or(&Value::Null);
        let status = result["status"].as_u64().unwrap_or(0);
        match status {
            200..=299 => report.written += 1,
            404 if change.op == Op::Delete => report.written += 1,
            409 => report.stale += 1,
            429 | 500..=599 => {
                return Err(Error::Unavailable {
                    sink: "elasticsearch",
                    reason: format!("document `{}`: {status} {}", change.key, reason(result)),
                });
            }
            _ => report.rejected.push(Rejected {
                key: change.key.clone(),
                reason: reason(result),
            }),
        }
    }
    Ok(report)
}

/// The item's `error`, with its cause when there is one.
fn reason(result: &Value) -> String {
    let error = &result["error"];
    let mut text = format!(
        "{}: {}",
        error["type"].as_str().unwrap_or("error"),
        error["reason"].as_str().unwrap_or("no reason given")
    );
    if let Some(cause) = error["caused_by"]["reason"].as_str() {
        text.push_str(" (");
        text.push_str(cause);
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, version: u64, op: Op) -> Change {
        Change {
            key: key.into(),
            version,
            op,
        }
    }

    #[test]
    fn body_has_external_versions() {
        let body = body(
            "orders",
            &[
                change("a", 3, Op::Upsert(json!({"s": 1}))),
                change("b", 4, Op::Delete),
            ],
        );
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["index"]["version_type"], "external");
        assert_eq!(lines[0]["index"]["version"], 3);
        assert_eq!(lines[1], json!({"s": 1}));
        assert_eq!(lines[2]["delete"]["_id"], "b");
    }

    #[test]
    fn conflicts_are_stale_and_mapping_errors_are_rejections_with_key_and_reason() {
        let changes = [
            change("a", 1, Op::Upsert(json!({}))),
            change("b", 1, Op::Upsert(json!({}))),
            change("c", 1, Op::Upsert(json!({}))),
        ];
        let reply = json!({"errors": true, "items": [
            {"index": {"status": 201}},
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "v"}}},
            {"index": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "failed to parse field [total]",
                "caused_by": {"reason": "For input string: \"x\""}}}},
        ]});
        let report = outcome(&changes, &reply).unwrap();
        assert_eq!((report.written, report.stale), (1, 1));
        assert_eq!(report.rejected[0].key, "c");
        assert!(
            report.rejected[0]
                .reason
                .contains("failed to parse field [total]")
        );
    }

    #[test]
    fn overload_is_retryable() {
        let changes = [change("a", 1, Op::Delete)];
        let reply = json!({"items": [{"delete": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "full"}}}]});
        assert!(outcome(&changes, &reply).unwrap_err().is_retryable());
    }
}
