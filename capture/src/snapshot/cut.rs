//! The consistent cut: the binlog position, and a `REPEATABLE READ` transaction that sees the
//! tables exactly as of that position (ADR 0031).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use super::tables::{self, SnapshotTable};
use crate::config::TableFilter;
use crate::offsets::Offset;
use crate::schema::server::{self, SchemaSnapshot};
use crate::{Result, binlog};

/// A cut: its position, the tables to read, and their schema at that position.
pub(crate) type Cut = (Offset, Vec<SnapshotTable>, SchemaSnapshot);

/// ER_SPECIFIC_ACCESS_DENIED_ERROR: `FLUSH TABLES WITH READ LOCK` without RELOAD.
const ACCESS_DENIED: u16 = 1227;

/// Prepares the snapshot connection: character columns come as their stored bytes (decoded
/// by the column's charset as in the binlog), and transactions are `REPEATABLE READ`.
pub(crate) async fn prepare(conn: &mut Conn) -> Result<()> {
    conn.query_drop("SET SESSION character_set_results = binary")
        .await?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    Ok(())
}

/// Takes the cut: under a brief `FLUSH TABLES WITH READ LOCK` reads the captured tables'
/// columns and the binlog end (file, position, `@@gtid_binlog_pos`), opens
/// `START TRANSACTION WITH CONSISTENT SNAPSHOT` and releases the lock. Without the RELOAD
/// privilege it takes no lock and reads the position MariaDB reports for the consistent
/// snapshot itself (`binlog_snapshot_file`, `binlog_snapshot_position`).
pub(crate) async fn take(conn: &mut Conn, filter: &TableFilter) -> Result<Cut> {
    match conn.query_drop("FLUSH TABLES WITH READ LOCK").await {
        Ok(()) => {
            let locked = under_lock(conn, filter).await;
            // The transaction survives UNLOCK TABLES; release the lock also after an error.
            let unlocked = conn.query_drop("UNLOCK TABLES").await;
            let cut = locked?;
            unlocked?;
            info!(file = %cut.0.file, pos = cut.0.pos, gtid = ?cut.0.gtid_position, tables = cut.1.len(),
                  "Snapshot cut taken under FLUSH TABLES WITH READ LOCK; lock released.");
            Ok(cut)
        }
        Err(mysql_async::Error::Server(e)) if e.code == ACCESS_DENIED => {
            warn!(reason = %e.message, "No RELOAD privilege: taking the snapshot cut without a lock.");
            without_lock(conn, filter).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn under_lock(conn: &mut Conn, filter: &TableFilter) -> Result<Cut> {
    let tables = tables::captured(conn, filter).await?;
    let schema = server::snapshot(conn, filter).await?;
    let mut cut = binlog::end_position(conn).await?;
    let gtid: Option<Option<String>> = conn.query_first("SELECT @@gtid_binlog_pos").await?;
    cut.gtid_position = gtid.flatten();
    begin(conn).await?;
    Ok((cut, tables, schema))
}

async fn without_lock(conn: &mut Conn, filter: &TableFilter) -> Result<Cut> {
    begin(conn).await?;
    let status: Vec<(String, String)> = conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
    let get = |name: &str| {
        status
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let file = get("binlog_snapshot_file").unwrap_or_default();
    let pos = get("binlog_snapshot_position")
        .and_then(|p| p.parse().ok())
        .unwrap_or(4);
    let mut cut = Offset::at(file, pos);
    cut.gtid_position = binlog::gtid_position_at(conn, &cut.file, cut.pos).await?;
    let tables = tables::captured(conn, filter).await?;
    let schema = server::snapshot(conn, filter).await?;
    info!(file = %cut.file, pos = cut.pos, gtid = ?cut.gtid_position, tables = tables.len(),
          "Snapshot cut taken from the consistent snapshot's binlog position.");
    Ok((cut, tables, schema))
}

/// A schema snapshot now, for streaming without a data snapshot: under a brief
/// `FLUSH TABLES WITH READ LOCK` the binlog end and the captured tables' `SHOW CREATE TABLE`
/// (without RELOAD, the same without the lock, and a warning).
pub(crate) async fn schema_now(
    conn: &mut Conn,
    filter: &TableFilter,
) -> Result<(Offset, SchemaSnapshot)> {
    let locked = match conn.query_drop("FLUSH TABLES WITH READ LOCK").await {
        Ok(()) => true,
        Err(mysql_async::Error::Server(e)) if e.code == ACCESS_DENIED => {
            warn!(reason = %e.message, "No RELOAD privilege: reading the schema without a lock.");
            false
        }
        Err(e) => return Err(e.into()),
    };
    let read = async {
        let mut at = binlog::end_position(conn).await?;
        let gtid: Option<Option<String>> = conn.query_first("SELECT @@gtid_binlog_pos").await?;
        at.gtid_position = gtid.flatten();
        let schema = server::snapshot(conn, filter).await?;
        Ok::<_, crate::Error>((at, schema))
    }
    .await;
    if locked {
        conn.query_drop("UNLOCK TABLES").await?;
    }
    read
}

/// Opens the consistent-snapshot transaction every chunk is read in.
pub(crate) async fn begin(conn: &mut Conn) -> Result<()> {
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await?;
    Ok(())
}
