//! The tables a snapshot reads and their columns, from `information_schema`.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::config::TableFilter;
use crate::mapping::{ColumnDefinition, TableSchema};
use crate::{Error, Result};

/// A table to snapshot: its columns as the snapshot selects them and as the mapping sees them.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotTable {
    /// The columns from `information_schema.COLUMNS`, in order.
    pub(crate) defs: Vec<ColumnDefinition>,
    /// The same columns as the binlog path describes them.
    pub(crate) schema: TableSchema,
}

impl SnapshotTable {
    /// `db.table`.
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.schema.db, self.schema.table)
    }
}

/// The base tables the filter includes, sorted by database and name, with their columns.
pub(crate) async fn captured(conn: &mut Conn, filter: &TableFilter) -> Result<Vec<SnapshotTable>> {
    let names: Vec<(Option<String>, Option<String>)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await?;
    let mut out = Vec::new();
    for (db, table) in names {
        let (Some(db), Some(table)) = (db, table) else {
            continue;
        };
        if filter.includes(&db, &table) {
            out.push(load(conn, &db, &table).await?);
        }
    }
    Ok(out)
}

async fn load(conn: &mut Conn, db: &str, table: &str) -> Result<SnapshotTable> {
    type ColumnRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<String>,
        Option<u64>,
    );
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_KEY, \
               c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION, c.CHARACTER_SET_NAME, \
               (SELECT co.ID FROM information_schema.COLLATIONS co \
                 WHERE co.COLLATION_NAME = c.COLLATION_NAME) \
             FROM information_schema.COLUMNS c \
             WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION",
            (db, table),
        )
        .await?;
    let name = format!("{db}.{table}");
    let mut defs = Vec::with_capacity(rows.len());
    for (col, data_type, column_type, nullable, key, precision, scale, fsp, charset, collation) in
        rows
    {
        defs.push(ColumnDefinition {
            name: col.unwrap_or_default(),
            data_type: data_type.unwrap_or_default(),
            column_type: column_type.unwrap_or_default(),
            nullable: nullable.as_deref() == Some("YES"),
            primary_key: key.as_deref() == Some("PRI"),
            numeric_precision: precision,
            numeric_scale: scale,
            datetime_precision: fsp,
            charset_name: charset,
            collation_id: collation.and_then(|id| u16::try_from(id).ok()),
        });
    }
    if defs.is_empty() {
        return Err(Error::Snapshot {
            table: name,
            reason: "information_schema.COLUMNS lists no columns (dropped meanwhile?)".into(),
        });
    }
    let mut columns = Vec::with_capacity(defs.len());
    for def in &defs {
        columns.push(def.to_column_meta().map_err(|reason| Error::Mapping {
            table: name.clone(),
            column: def.name.clone(),
            reason,
        })?);
    }
    Ok(SnapshotTable {
        defs,
        schema: TableSchema {
            db: db.to_owned(),
            table: table.to_owned(),
            columns,
        },
    })
}
