//! A Debezium change event (JSON, without schemas) as the translator reads it.

use keel::event::SourcePosition;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The envelope's fields the translator uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    /// `c`, `u`, `d`, `r`.
    pub op: String,
    /// The row before (updates and deletes).
    pub before: Option<Map<String, Value>>,
    /// The row after (creates, reads and updates).
    pub after: Option<Map<String, Value>>,
    /// Where in the binlog.
    pub source: Source,
}

/// The `source` block.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// `topic.prefix`.
    pub name: String,
    /// The table.
    pub table: String,
    /// The binlog file.
    pub file: String,
    /// The rows event's position.
    pub pos: u64,
    /// The row's index in it.
    pub row: u32,
    /// The transaction's GTID.
    pub gtid: Option<String>,
}

impl Change {
    /// Decodes a record value; `None` for a tombstone.
    pub fn decode(payload: Option<&[u8]>) -> Result<Option<Self>, String> {
        let Some(payload) = payload else {
            return Ok(None);
        };
        serde_json::from_slice(payload)
            .map(Some)
            .map_err(|e| format!("not a Debezium change event: {e}"))
    }

    /// The position as keel-core's CDC source (event ids derive from it). Snapshot rows
    /// (`op` `r`) all carry the snapshot's position, so their table and `key` (the record key,
    /// the primary key as JSON) tell them apart.
    pub fn position(&self, key: Option<&str>) -> SourcePosition {
        let snapshot_key =
            (self.op == "r").then(|| format!("{}:{}", self.source.table, key.unwrap_or("")));
        SourcePosition {
            snapshot_key,
            name: self.source.name.clone(),
            gtid: self.source.gtid.clone(),
            file: self.source.file.clone(),
            pos: self.source.pos,
            row: self.source.row,
        }
    }

    /// The row after the change, or an error naming the table and position.
    pub fn row(&self) -> Result<Row<'_>, String> {
        self.after
            .as_ref()
            .map(|r| Row {
                row: r,
                change: self,
            })
            .ok_or_else(|| self.context("has no `after` row"))
    }

    /// The row before the change, when there is one.
    pub fn before(&self) -> Option<Row<'_>> {
        self.before.as_ref().map(|r| Row {
            row: r,
            change: self,
        })
    }

    fn context(&self, what: &str) -> String {
        format!(
            "change of `{}` at {}:{} row {} {what}",
            self.source.table, self.source.file, self.source.pos, self.source.row
        )
    }
}

/// One row of a change, with typed getters whose errors name the column, table and position.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    row: &'a Map<String, Value>,
    change: &'a Change,
}

impl Row<'_> {
    /// An integer column.
    pub fn int(&self, column: &str) -> Result<i64, String> {
        self.row
            .get(column)
            .and_then(Value::as_i64)
            .ok_or_else(|| self.change.context(&format!("has no integer `{column}`")))
    }

    /// A text column.
    pub fn text(&self, column: &str) -> Result<String, String> {
        self.row
            .get(column)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.change.context(&format!("has no text `{column}`")))
    }

    /// A DECIMAL column (`decimal.handling.mode=string`) in cents.
    pub fn cents(&self, column: &str) -> Result<i64, String> {
        let text = self.text(column)?;
        crate::legacy::schema::parse_cents(&text).ok_or_else(|| {
            self.change
                .context(&format!("has `{column}` = {text:?}, not a decimal"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    const CREATE: &str = r#"{"before":null,"after":{"id":7,"order_id":3,"unit_price":"12.50"},
        "source":{"version":"0.1.0","connector":"mariadb","name":"orders","ts_ms":0,"snapshot":"false",
        "db":"ecommerce","table":"order_items","server_id":1,"gtid":"0-1-9","file":"binlog.000001","pos":420,"row":1},
        "op":"c","ts_ms":0}"#;

    #[test]
    fn a_create_gives_its_row_and_position() {
        let change = Change::decode(Some(CREATE.as_bytes()))
            .expect("decodes")
            .expect("not a tombstone");
        let row = change.row().expect("after");
        assert_eq!(row.int("order_id"), Ok(3));
        assert_eq!(row.cents("unit_price"), Ok(1250));
        assert_eq!(change.position(None).pos, 420);
        assert_eq!(change.position(None).row, 1);
        assert_eq!(change.position(None).snapshot_key, None);
    }

    #[test]
    fn a_missing_column_names_the_table_and_position() {
        let change = Change::decode(Some(CREATE.as_bytes()))
            .expect("decodes")
            .expect("not a tombstone");
        let error = change
            .row()
            .expect("after")
            .int("quantity")
            .expect_err("missing");
        assert_eq!(
            error,
            "change of `order_items` at binlog.000001:420 row 1 has no integer `quantity`"
        );
    }

    #[test]
    fn snapshot_rows_of_one_cut_get_distinct_event_ids() {
        let read = CREATE.replace(r#""op":"c""#, r#""op":"r""#);
        let change = Change::decode(Some(read.as_bytes()))
            .expect("decodes")
            .expect("not a tombstone");
        let (a, b) = (
            change.position(Some(r#"{"id":1}"#)),
            change.position(Some(r#"{"id":2}"#)),
        );
        assert_eq!(a.snapshot_key.as_deref(), Some(r#"order_items:{"id":1}"#));
        assert_ne!(a.event_id(0), b.event_id(0));
    }

    #[test]
    fn a_tombstone_is_none() {
        assert!(Change::decode(None).expect("tombstones decode").is_none());
    }
}
