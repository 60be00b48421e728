//! DDL from the binlog through the schema history, and schema change events
//! (`include.schema.changes=true`) on the topic `<topic.prefix>`, keyed by
//! `{"databaseName": ...}`, in the value shape of Debezium's MySQL-family connectors, with
//! `tableChanges` from the history (ADRs 0034, 0044).

use mysql_common::binlog::events::BinlogEventHeader;
use serde::Serialize;
use serde_json::Value as Json;

use super::Capture;
use super::emit::Emitter;
use super::state::State;
use crate::Result;
use crate::envelope::{self, Source};
use crate::offsets::Offset;
use crate::schema::history::RecordPosition;
use crate::schema::tables::SchemaEvent;
use crate::sink::Record;

#[derive(Serialize)]
struct SchemaChangeKey<'a> {
    #[serde(rename = "databaseName")]
    database_name: &'a str,
}

#[derive(Serialize)]
struct SchemaChangeValue<'a> {
    source: Json,
    ts_ms: i64,
    #[serde(rename = "databaseName")]
    database_name: &'a str,
    #[serde(rename = "schemaName")]
    schema_name: Option<&'a str>,
    ddl: &'a str,
    #[serde(rename = "tableChanges")]
    table_changes: Vec<Json>,
}

/// Where a schema change event's `source` points.
pub(super) struct SchemaSource<'a> {
    /// `source.snapshot`.
    pub(super) snapshot: &'static str,
    /// Binlog time of the statement, ms (processing time in a snapshot).
    pub(super) ts_ms: i64,
    pub(super) server_id: u32,
    pub(super) gtid: Option<String>,
    pub(super) file: &'a str,
    pub(super) pos: u64,
}

impl Capture {
    /// A QUERY event other than `BEGIN`/`COMMIT` at `start`: applied to the schema history
    /// (and stored there) before its schema change events are sent. True when the record limit
    /// was hit.
    pub(super) async fn on_statement(
        &self,
        out: &Emitter,
        state: &mut State,
        query: &str,
        session_db: &str,
        header: &BinlogEventHeader,
        start: u64,
    ) -> Result<bool> {
        let position = RecordPosition {
            file: state.file.clone(),
            pos: start,
            gtids: state.gtid_position(),
            ts_sec: i64::from(header.timestamp()),
            server_id: header.server_id(),
            snapshot: false,
        };
        let events = state
            .history
            .on_statement(query, session_db, position)
            .await?;
        if !self.config.include_schema_changes {
            return Ok(false);
        }
        let gtid = state
            .group
            .as_ref()
            .and_then(|g| g.gtid.map(|g| g.to_string()));
        for event in events {
            let file = state.file.clone();
            let record = self.schema_change_record(
                &event,
                &SchemaSource {
                    snapshot: "false",
                    ts_ms: i64::from(header.timestamp()) * 1000,
                    server_id: header.server_id(),
                    gtid: gtid.clone(),
                    file: &file,
                    pos: start,
                },
            )?;
            if let Some(record) = record
                && self.send(out, state, record).await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The schema change events of a schema snapshot taken at `at`, each stored behind the
    /// others at `offset`; the last is marked `last` when `last_is_last` (Debezium marks the
    /// final record of a snapshot so). Returns how many were sent.
    pub(super) async fn send_snapshot_schema(
        &self,
        out: &Emitter,
        events: &[SchemaEvent],
        at: &Offset,
        offset: &Offset,
        last_is_last: bool,
    ) -> Result<u64> {
        if !self.config.include_schema_changes {
            return Ok(0);
        }
        let mut sent = 0;
        for (i, event) in events.iter().enumerate() {
            let snapshot = if last_is_last && i + 1 == events.len() {
                "last"
            } else {
                "true"
            };
            let record = self.schema_change_record(
                event,
                &SchemaSource {
                    snapshot,
                    ts_ms: chrono::Utc::now().timestamp_millis(),
                    server_id: 0,
                    gtid: None,
                    file: &at.file,
                    pos: at.pos,
                },
            )?;
            if let Some(record) = record {
                out.emit(&record, offset.clone()).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// The schema change record of `event` (through the transforms; `None` when one dropped
    /// it).
    fn schema_change_record(
        &self,
        event: &SchemaEvent,
        at: &SchemaSource<'_>,
    ) -> Result<Option<Record>> {
        let table = event.change.as_ref().map(|c| c.id.table.clone());
        let source = Source {
            version: self.version.clone(),
            connector: envelope::CONNECTOR,
            name: self.prefix.clone(),
            ts_ms: at.ts_ms,
            snapshot: at.snapshot,
            db: event.database.as_str().into(),
            sequence: None,
            ts_us: at.ts_ms * 1000,
            ts_ns: at.ts_ms * 1_000_000,
            table: (table.clone().unwrap_or_default()).into(),
            server_id: at.server_id,
            gtid: at.gtid.as_deref().map(Into::into),
            file: (at.file.to_owned()).into(),
            pos: at.pos,
            row: 0,
            thread: None,
            query: None,
        };
        let mut source = serde_json::to_value(&source).map_err(|e| crate::Error::Mapping {
            table: self.config.topic_prefix.clone(),
            column: "*".into(),
            reason: e.to_string(),
        })?;
        // A snapshot's statements without a table have a null `source.table`, as Debezium's.
        if table.is_none() && at.snapshot != "false" {
            source["table"] = Json::Null;
        }
        let value = SchemaChangeValue {
            source,
            ts_ms: chrono::Utc::now().timestamp_millis(),
            database_name: &event.database,
            schema_name: None,
            ddl: &event.ddl,
            table_changes: event.change.iter().map(|c| c.event_json()).collect(),
        };
        self.own_record(
            self.config.topic_prefix.clone(),
            &SchemaChangeKey {
                database_name: &event.database,
            },
            &value,
            (at.file, at.pos),
        )
    }
}
