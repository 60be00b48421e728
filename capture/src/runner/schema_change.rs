//! Schema change events (`include.schema.changes=true`): DDL of captured databases on the
//! topic `<topic.prefix>`, keyed by `{"databaseName": ...}`, in the value shape of Debezium's
//! MySQL-family connectors. `tableChanges` is an empty array (no schema history is kept).

use serde::Serialize;
use serde_json::Value as Json;

use super::Capture;
use super::ddl::DdlTarget;
use crate::Result;
use crate::envelope::Source;
use crate::sink::Record;

#[derive(Serialize)]
struct SchemaChangeKey<'a> {
    #[serde(rename = "databaseName")]
    database_name: &'a str,
}

#[derive(Serialize)]
struct SchemaChangeValue<'a> {
    source: &'a Source,
    ts_ms: i64,
    #[serde(rename = "databaseName")]
    database_name: &'a str,
    #[serde(rename = "schemaName")]
    schema_name: Option<&'a str>,
    ddl: &'a str,
    #[serde(rename = "tableChanges")]
    table_changes: Vec<Json>,
}

impl Capture {
    /// Whether DDL on `target` is captured: its table passes the table filters, or, for a
    /// database-level statement, the database passes `database.include.list`.
    pub(super) fn captures_ddl(&self, target: &DdlTarget) -> bool {
        match &target.table {
            Some(table) => self.config.filter.includes(&target.db, table),
            None => self.config.filter.includes_database(&target.db),
        }
    }

    /// The schema change record of `ddl` (through the transforms; `None` when one dropped it).
    pub(super) fn schema_change_record(
        &self,
        target: &DdlTarget,
        ddl: &str,
        source: Source,
    ) -> Result<Option<Record>> {
        let value = SchemaChangeValue {
            source: &source,
            ts_ms: chrono::Utc::now().timestamp_millis(),
            database_name: &target.db,
            schema_name: None,
            ddl,
            table_changes: Vec::new(),
        };
        self.own_record(
            self.config.topic_prefix.clone(),
            &SchemaChangeKey {
                database_name: &target.db,
            },
            &value,
            (&source.file, source.pos),
        )
    }
}
