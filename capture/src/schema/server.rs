//! What the server says about the schema now: `SHOW CREATE TABLE`, database and server
//! charsets. Read for the schema snapshot, and for a table whose DDL could not be applied.

use std::collections::BTreeMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::model::TableId;
use crate::Result;
use crate::config::TableFilter;

/// ER_NO_SUCH_TABLE.
const NO_SUCH_TABLE: u16 = 1146;
/// ER_BAD_DB_ERROR.
const BAD_DB: u16 = 1049;

/// Text of a column the connection may return as bytes (`character_set_results=binary`).
fn text(row: &mysql_async::Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::NULL => None,
        other => Some(other.as_sql(true)),
    }
}

/// `SHOW CREATE TABLE`, `None` when the table does not exist (any more).
pub(crate) async fn show_create(conn: &mut Conn, id: &TableId) -> Result<Option<String>> {
    let sql = format!("SHOW CREATE TABLE {}", id.back_quoted());
    match conn.query_first::<mysql_async::Row, _>(sql).await {
        Ok(row) => Ok(row.and_then(|r| text(&r, 1))),
        Err(mysql_async::Error::Server(e)) if e.code == NO_SUCH_TABLE || e.code == BAD_DB => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// `character_set_server` and `collation_server`.
pub(crate) async fn server_charset(conn: &mut Conn) -> Result<(String, String)> {
    let row: Option<mysql_async::Row> = conn
        .query_first("SELECT @@character_set_server, @@collation_server")
        .await?;
    Ok(row.map_or_else(Default::default, |r| {
        (
            text(&r, 0).unwrap_or_default(),
            text(&r, 1).unwrap_or_default(),
        )
    }))
}

/// Each database's default charset and collation.
pub(crate) async fn database_charsets(
    conn: &mut Conn,
) -> Result<BTreeMap<String, (String, String)>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA",
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                text(r, 0)?,
                (
                    text(r, 1).unwrap_or_default(),
                    text(r, 2).unwrap_or_default(),
                ),
            ))
        })
        .collect())
}

/// The base tables the filter captures, by database and name.
pub(crate) async fn captured_tables(conn: &mut Conn, filter: &TableFilter) -> Result<Vec<TableId>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some(TableId::new(text(r, 0)?, text(r, 1)?)))
        .filter(|id| filter.includes(&id.db, &id.table))
        .collect())
}

/// The server's schema of the captured tables at one moment: what a schema snapshot records.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaSnapshot {
    /// `character_set_server`, `collation_server`.
    pub(crate) server: (String, String),
    /// The captured databases (those with captured tables), with charset and collation.
    pub(crate) databases: Vec<(String, String, String)>,
    /// Each captured table and its `SHOW CREATE TABLE`.
    pub(crate) tables: Vec<(TableId, String)>,
    /// The default charset of every captured database (with tables or not).
    pub(crate) db_charsets: Vec<(String, String)>,
}

/// Reads a schema snapshot (the caller holds the lock that makes it consistent, if any).
pub(crate) async fn snapshot(conn: &mut Conn, filter: &TableFilter) -> Result<SchemaSnapshot> {
    let server = server_charset(conn).await?;
    let charsets = database_charsets(conn).await?;
    let mut tables = Vec::new();
    for id in captured_tables(conn, filter).await? {
        if let Some(ddl) = show_create(conn, &id).await? {
            tables.push((id, ddl));
        }
    }
    let mut databases: Vec<(String, String, String)> = Vec::new();
    for (id, _) in &tables {
        if databases.last().is_none_or(|(db, _, _)| *db != id.db) {
            let (cs, coll) = charsets.get(&id.db).cloned().unwrap_or_default();
            databases.push((id.db.clone(), cs, coll));
        }
    }
    let db_charsets = charsets
        .into_iter()
        .filter(|(db, _)| filter.includes_database(db))
        .map(|(db, (cs, _))| (db, cs))
        .collect();
    Ok(SchemaSnapshot {
        server,
        databases,
        tables,
        db_charsets,
    })
}
