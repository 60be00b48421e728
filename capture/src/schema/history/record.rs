//! One schema history record, in the shape of Debezium's `schema.history.internal` records:
//! `{"source": {"server"}, "position": {...}, "ts_ms", "databaseName", "ddl", "tableChanges"}`.

use serde_json::{Value as Json, json};

use crate::offsets::file_seq;
use crate::schema::model::TableChange;

/// Where a record's statement is in the binlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPosition {
    /// The binlog file.
    pub file: String,
    /// The statement's event (or, for a schema snapshot, the snapshot's position).
    pub pos: u64,
    /// The GTID position before the statement's transaction.
    pub gtids: Option<String>,
    /// The statement's time, seconds.
    pub ts_sec: i64,
    /// The originating server id (0 in a snapshot).
    pub server_id: u32,
    /// Part of a schema snapshot (Debezium's `"snapshot": "INITIAL"`).
    pub snapshot: bool,
}

impl RecordPosition {
    /// Whether this position comes before `(file, pos)` (files compare by their number).
    pub fn before(&self, file: &str, pos: u64) -> bool {
        (file_seq(&self.file), self.pos) < (file_seq(file), pos)
    }
}

/// A DDL statement (or one table's part of it) and the table changes it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// Where it is.
    pub position: RecordPosition,
    /// When it was recorded, ms.
    pub ts_ms: i64,
    /// `databaseName`.
    pub database: String,
    /// The statement.
    pub ddl: String,
    /// The tables after it (the history's serialization).
    pub changes: Vec<TableChange>,
}

impl HistoryRecord {
    /// The record as stored; `server` is `topic.prefix`.
    pub fn to_json(&self, server: &str) -> Json {
        let p = &self.position;
        let mut position = json!({
            "ts_sec": p.ts_sec,
            "file": p.file,
            "pos": p.pos,
            "gtids": p.gtids,
            "server_id": p.server_id,
        });
        if p.snapshot {
            position["snapshot"] = json!("INITIAL");
        }
        json!({
            "source": {"server": server},
            "position": position,
            "ts_ms": self.ts_ms,
            "databaseName": self.database,
            "ddl": self.ddl,
            "tableChanges": self.changes.iter().map(TableChange::history_json).collect::<Vec<_>>(),
        })
    }

    /// Reads a stored record.
    pub fn from_json(v: &Json) -> Result<Self, String> {
        let p = v.get("position").ok_or("a record without a position")?;
        let text = |v: &Json, k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
        let mut changes = Vec::new();
        for c in v
            .get("tableChanges")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            changes.push(TableChange::from_history_json(c)?);
        }
        Ok(Self {
            position: RecordPosition {
                file: text(p, "file").ok_or("a position without a file")?,
                pos: p
                    .get("pos")
                    .and_then(Json::as_u64)
                    .ok_or("a position without pos")?,
                gtids: text(p, "gtids"),
                ts_sec: p.get("ts_sec").and_then(Json::as_i64).unwrap_or(0),
                server_id: p
                    .get("server_id")
                    .and_then(Json::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                snapshot: p.get("snapshot").is_some_and(|s| !s.is_null()),
            },
            ts_ms: v.get("ts_ms").and_then(Json::as_i64).unwrap_or(0),
            database: text(v, "databaseName").unwrap_or_default(),
            ddl: text(v, "ddl").unwrap_or_default(),
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::{ChangeKind, TableId};

    #[test]
    fn records_round_trip_in_debeziums_shape() {
        let record = HistoryRecord {
            position: RecordPosition {
                file: "binlog.000002".into(),
                pos: 4711,
                gtids: Some("0-1-9".into()),
                ts_sec: 1_700_000_000,
                server_id: 1,
                snapshot: true,
            },
            ts_ms: 1_700_000_000_123,
            database: "shop".into(),
            ddl: "DROP TABLE `shop`.`t`".into(),
            changes: vec![TableChange {
                kind: ChangeKind::Drop,
                id: TableId::new("shop", "t"),
                table: None,
            }],
        };
        let v = record.to_json("p");
        assert_eq!(v["source"]["server"], "p");
        assert_eq!(v["position"]["snapshot"], "INITIAL");
        assert_eq!(HistoryRecord::from_json(&v).unwrap(), record);
        assert!(record.position.before("binlog.000002", 4712));
        assert!(!record.position.before("binlog.000002", 4711));
        assert!(record.position.before("binlog.000010", 4));
    }
}
