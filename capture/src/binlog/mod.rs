//! Reading the binlog: a mysql_async binlog stream registered as a MariaDB-aware replica, read
//! ahead on a task of its own ([`ReadAhead`]), our decoders for MariaDB's own events, checksum
//! verification, and the position bookkeeping.

pub mod checksum;
pub mod events;
mod read_ahead;
pub mod rows;

pub use read_ahead::{ReadAhead, ReadEvent};

use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts};

use crate::Result;
use crate::offsets::{Offset, ResumeBy};

/// Opens a binlog stream at `start` (a file and position). Sets
/// `@mariadb_slave_capability=4` first, so MariaDB sends its real GTID events (162) and
/// annotate events instead of rewriting them into dummies for a MySQL replica.
///
/// With [`ResumeBy::Gtid`] and a GTID position in `start`, the server is asked by GTID
/// (`@slave_connect_state`) and ignores the file and position.
pub async fn open(
    opts: &Opts,
    server_id: u32,
    start: &Offset,
    by: ResumeBy,
) -> Result<BinlogStream> {
    let mut conn = Conn::new(opts.clone()).await?;
    conn.query_drop("SET @mariadb_slave_capability=4").await?;
    let request = BinlogStreamRequest::new(server_id);
    let request = match (&start.gtid_position, by) {
        (Some(position), ResumeBy::Gtid) => {
            conn.exec_drop("SET @slave_connect_state = ?", (position.as_str(),))
                .await?;
            conn.query_drop("SET @slave_gtid_strict_mode=0, @slave_gtid_ignore_duplicates=0")
                .await?;
            request.with_pos(4u64)
        }
        _ => request
            .with_filename(start.file.as_bytes())
            .with_pos(start.pos),
    };
    Ok(conn.get_binlog_stream(request).await?)
}

/// The GTID position at `file:pos` (`BINLOG_GTID_POS`), `None` when the server has none.
pub async fn gtid_position_at(conn: &mut Conn, file: &str, pos: u64) -> Result<Option<String>> {
    let row: Option<Option<String>> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos))
        .await?;
    Ok(row.flatten())
}

/// The binlog end now: `SHOW MASTER STATUS`.
pub async fn end_position(conn: &mut Conn) -> Result<Offset> {
    let row: Option<(String, u64)> =
        conn.query_first("SHOW MASTER STATUS")
            .await?
            .map(|row: mysql_async::Row| {
                let file: Option<String> = row.get(0);
                let pos: Option<u64> = row.get(1);
                (file.unwrap_or_default(), pos.unwrap_or(4))
            });
    match row {
        Some((file, pos)) if !file.is_empty() => Ok(Offset::at(file, pos)),
        _ => Err(crate::Error::ServerVariable {
            variable: "log_bin".into(),
            actual: "OFF (SHOW MASTER STATUS is empty)".into(),
            needed: "log_bin=ON".into(),
        }),
    }
}

/// Whether the server still has the binlog `file` (`SHOW BINARY LOGS`).
pub async fn has_file(conn: &mut Conn, file: &str) -> Result<bool> {
    let rows: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await?;
    Ok(rows
        .iter()
        .any(|row| row.get::<String, _>(0).is_some_and(|name| name == file)))
}
