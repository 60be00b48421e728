//! Dead letters (`errors.tolerance=all`, ADR 0033): a row that cannot be decoded, mapped or
//! transformed becomes a record on the dead-letter topic saying where it is and why, and
//! capture goes on.

use serde_json::json;

use super::Capture;
use crate::config::ErrorsTolerance;
use crate::sink::Record;
use crate::transforms::Header;
use crate::{Error, Result};

/// Where a failure happened and what it was.
pub(super) struct Failure<'a> {
    /// `db.table`.
    pub(super) table: &'a str,
    /// The topic the row's records would have gone to.
    pub(super) topic: &'a str,
    /// The binlog file.
    pub(super) file: &'a str,
    /// The rows event's position.
    pub(super) pos: u64,
    /// The row's index in the event.
    pub(super) row: u32,
    /// Kafka Connect's stage name: `TASK_POLL` (decoding, mapping) or `TRANSFORMATION`.
    pub(super) stage: &'static str,
    /// The error.
    pub(super) error: Error,
}

impl Capture {
    /// With `errors.tolerance=all`, the dead letter for `failure`; with `none`, the error
    /// (naming the position).
    pub(super) fn dead_letter_or_fail(&self, failure: Failure<'_>) -> Result<Record> {
        if self.config.errors_tolerance != ErrorsTolerance::All {
            return Err(match failure.error {
                e @ Error::Transform { .. } => e,
                other => Error::Row {
                    file: failure.file.to_owned(),
                    pos: failure.pos,
                    row: failure.row,
                    source: Box::new(other),
                },
            });
        }
        let message = failure.error.to_string();
        tracing::warn!(
            table = failure.table, file = failure.file, pos = failure.pos, row = failure.row,
            error = %message, topic = %self.config.dead_letter_topic,
            "Row sent to the dead-letter topic."
        );
        let class = error_class(&failure.error);
        let value = json!({
            "table": failure.table,
            "file": failure.file,
            "pos": failure.pos,
            "row": failure.row,
            "topic": failure.topic,
            "error": message,
        });
        let headers = vec![
            Header::text("__connect.errors.topic", failure.topic),
            Header::text("__connect.errors.connector.name", self.config.name.clone()),
            Header::text("__connect.errors.task.id", "0"),
            Header::text("__connect.errors.stage", failure.stage),
            Header::text("__connect.errors.exception.class.name", class),
            Header::text("__connect.errors.exception.message", message),
            Header::text("keel.binlog.file", failure.file),
            Header::text("keel.binlog.pos", failure.pos.to_string()),
            Header::text("keel.binlog.row", failure.row.to_string()),
            Header::text("keel.table", failure.table),
        ];
        Ok(Record {
            topic: self.config.dead_letter_topic.clone(),
            key: None,
            value: Some(value.to_string().into_bytes()),
            headers,
        })
    }
}

/// The error's kind, in the place of Kafka Connect's exception class name.
fn error_class(error: &Error) -> &'static str {
    match error {
        Error::Mapping { .. } => "keel_capture::Error::Mapping",
        Error::Decode { .. } => "keel_capture::Error::Decode",
        Error::Transform { .. } => "keel_capture::Error::Transform",
        _ => "keel_capture::Error",
    }
}
