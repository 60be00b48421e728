//! The initial snapshot: every captured table read in primary-key chunks inside one
//! consistent-snapshot transaction, each row sent as an `op=r` record with Debezium's
//! `source.snapshot` markers, progress stored behind the acknowledgements (ADR 0031).

use std::sync::Arc;

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row as SqlRow, Value};
use mysql_common::binlog::value::BinlogValue;
use tracing::info;

use super::Capture;
use super::emit::{self, Emitter};
use super::records::RecordBuilder;
use super::state::TableInfo;
use crate::envelope::{self, Op, Source};
use crate::mapping;
use crate::offsets::{KeyPart, Offset, SnapshotProgress};
use crate::schema::history::SchemaHistory;
use crate::snapshot::cut;
use crate::snapshot::progress::Progress;
use crate::snapshot::tables::SnapshotTable;
use crate::{Error, Result};

/// How a snapshot ended.
pub(super) enum SnapshotEnd {
    /// Every table read; streaming starts at this cut.
    Complete(Offset),
    /// `stop_after_records` was reached, or the change stream asked to stop.
    Stopped,
}

/// A row read but not sent yet: its marker depends on whether another row follows.
struct Held {
    info: Arc<TableInfo>,
    values: Vec<BinlogValue<'static>>,
    ts_ms: i64,
    first_in_table: bool,
    first_table: bool,
    last_table: bool,
    last_in_table: bool,
    offset: Offset,
}

impl Held {
    fn marker(&self, final_row: bool) -> &'static str {
        marker(
            self.first_table && self.first_in_table,
            self.first_in_table,
            (self.last_table && self.last_in_table) || final_row,
            self.last_in_table,
        )
    }
}

/// Debezium's `source.snapshot` value, in its order of precedence: `last` (last row of the
/// last table, or the snapshot's final row), `first` (first row of the first table), then the
/// per-table markers, else `true`.
fn marker(first: bool, first_in_table: bool, last: bool, last_in_table: bool) -> &'static str {
    if last {
        "last"
    } else if first {
        "first"
    } else if last_in_table {
        "last_in_data_collection"
    } else if first_in_table {
        "first_in_data_collection"
    } else {
        "true"
    }
}

/// Sends held rows and the progress offsets behind them, in order.
struct Sender<'a> {
    capture: &'a Capture,
    out: &'a Emitter,
    cut: &'a Offset,
    held: Option<Held>,
    /// Offsets (tables done) to store once the held row is sent.
    after_held: Vec<Offset>,
    sent: &'a mut u64,
}

impl Sender<'_> {
    /// Holds `next` and sends the row held before it; true when the record limit is hit or
    /// the change stream asks to stop.
    async fn push(&mut self, next: Held) -> Result<bool> {
        if emit::stopping(&self.capture.shutdown) {
            return Ok(true);
        }
        let previous = self.held.replace(next);
        match previous {
            Some(p) => self.send(p, false).await,
            None => Ok(false),
        }
    }

    /// Stores `offset` once everything before it is acknowledged.
    async fn mark(&mut self, offset: Offset) -> Result<()> {
        if self.held.is_some() {
            self.after_held.push(offset);
            Ok(())
        } else {
            self.out.mark(offset).await
        }
    }

    async fn finish(&mut self) -> Result<bool> {
        match self.held.take() {
            Some(h) => self.send(h, true).await,
            None => Ok(false),
        }
    }

    async fn send(&mut self, held: Held, final_row: bool) -> Result<bool> {
        let info = &held.info;
        let source = Source {
            version: self.capture.version.clone(),
            connector: envelope::CONNECTOR,
            name: self.capture.prefix.clone(),
            ts_ms: held.ts_ms,
            snapshot: held.marker(final_row),
            db: info.db.clone(),
            sequence: None,
            ts_us: held.ts_ms * 1000,
            ts_ns: held.ts_ms * 1_000_000,
            table: info.table.clone(),
            server_id: 0,
            gtid: self
                .cut
                .gtid_position
                .as_deref()
                .filter(|g| !g.is_empty())
                .map(Into::into),
            file: self.cut.file.as_str().into(),
            pos: self.cut.pos,
            row: 0,
            thread: None,
            query: None,
        };
        let mut builder = RecordBuilder {
            txn: None,
            capture: self.capture,
            info,
            source,
            source_json: None,
            made: 0,
            now_us: chrono::Utc::now().timestamp_micros(),
        };
        let after = builder.selected_row(&held.values)?;
        let mut records = Vec::with_capacity(1);
        builder.records(Op::Read, 0, None, Some(after), &mut records)?;
        for record in records {
            self.out.emit(&record, held.offset.clone()).await?;
            *self.sent += 1;
        }
        for offset in std::mem::take(&mut self.after_held) {
            self.out.mark(offset).await?;
        }
        Ok(self.capture.stop_after.is_some_and(|n| *self.sent >= n))
    }
}

impl Capture {
    /// Runs the snapshot, fresh (`resume` is `None`) or from stored progress.
    pub(super) async fn snapshot(
        &self,
        opts: &mysql_async::Opts,
        out: &Emitter,
        history: &mut SchemaHistory,
        resume: Option<Offset>,
        sent: &mut u64,
    ) -> Result<SnapshotEnd> {
        let mut conn = Conn::new(opts.clone()).await?;
        cut::prepare(&mut conn).await?;
        let mut schema_events = None;
        let (cut, tables, mut progress) = match resume {
            Some(mut stored) => {
                let progress = stored.snapshot.take().unwrap_or_default();
                // A new consistent snapshot; rows changed since the original cut come again
                // from the binlog after it (ADR 0031).
                cut::begin(&mut conn).await?;
                let tables =
                    crate::snapshot::tables::captured(&mut conn, &self.config.filter).await?;
                info!(file = %stored.file, pos = stored.pos, table = ?progress.table,
                      done = progress.tables_done.len(), "Resuming the snapshot.");
                if history.is_empty() {
                    let mut other = Conn::new(opts.clone()).await?;
                    let (now, schema) = cut::schema_now(&mut other, &self.config.filter).await?;
                    let _ = other.disconnect().await;
                    schema_events = Some((history.record_snapshot(schema, &now).await?, now));
                }
                (stored, tables, progress)
            }
            None => {
                let (cut, tables, schema) = cut::take(&mut conn, &self.config.filter).await?;
                schema_events = Some((history.record_snapshot(schema, &cut).await?, cut.clone()));
                (cut, tables, SnapshotProgress::default())
            }
        };
        let at = |p: &SnapshotProgress| Offset {
            snapshot: Some(p.clone()),
            ..cut.clone()
        };
        let mut sender = Sender {
            capture: self,
            out,
            cut: &cut,
            held: None,
            after_held: Vec::new(),
            sent,
        };
        // The cut is stored before the first row, so a restart resumes this snapshot.
        sender.mark(at(&progress)).await?;
        // The schema first, as Debezium sends it; its last record is not the snapshot's last.
        if let Some((events, schema_at)) = &schema_events {
            *sender.sent += self
                .send_snapshot_schema(out, events, schema_at, &at(&progress), false)
                .await?;
        }
        let total = tables.len();
        let mut bar = Progress::new(
            self.show_progress,
            total as u64,
            progress.tables_done.len() as u64,
        );
        for (index, table) in tables.iter().enumerate() {
            let name = table.name();
            if progress.tables_done.contains(&name) {
                continue;
            }
            let mut cursor = match &progress.table {
                Some(t) if *t == name => progress.last_key.clone(),
                _ => None,
            };
            progress.table = Some(name.clone());
            progress.last_key = None;
            let info = Arc::new(self.snapshot_table_info(table));
            let ts_ms: Option<i64> = conn
                .query_first("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)")
                .await?;
            let ts_ms = ts_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
            let keyed = !table.key_columns().is_empty();
            let mut first = cursor.is_none();
            let mut rows_in_table = 0u64;
            loop {
                let sql = table
                    .select(cursor.as_deref(), self.config.snapshot_fetch_size)
                    .map_err(|reason| Error::Snapshot {
                        table: name.clone(),
                        reason,
                    })?;
                let mut chunk_rows = 0u64;
                let mut result = conn.exec_iter(sql.as_str(), ()).await?;
                let mut rows = result.stream::<SqlRow>().await?;
                while let Some(row) = match rows.as_mut() {
                    Some(rows) => rows.next().await,
                    None => None,
                } {
                    let (values, key) = self.split_row(table, row?, &name)?;
                    chunk_rows += 1;
                    rows_in_table += 1;
                    progress.rows += 1;
                    if keyed {
                        progress.last_key = Some(key.clone());
                        cursor = Some(key);
                    }
                    bar.row(&name);
                    let held = Held {
                        info: info.clone(),
                        values,
                        ts_ms,
                        first_in_table: first,
                        first_table: index == 0,
                        last_table: index + 1 == total,
                        last_in_table: false,
                        offset: at(&progress),
                    };
                    first = false;
                    if sender.push(held).await? {
                        bar.finish();
                        return Ok(SnapshotEnd::Stopped);
                    }
                }
                drop(rows);
                result.drop_result().await?;
                if !keyed || chunk_rows < self.config.snapshot_fetch_size {
                    break;
                }
            }
            if let Some(h) = sender.held.as_mut()
                && Arc::ptr_eq(&h.info, &info)
            {
                h.last_in_table = true;
            }
            progress.tables_done.push(name.clone());
            progress.table = None;
            progress.last_key = None;
            sender.mark(at(&progress)).await?;
            bar.table_done();
            info!(table = %name, rows = rows_in_table, "Snapshot of table done.");
        }
        if sender.finish().await? {
            bar.finish();
            return Ok(SnapshotEnd::Stopped);
        }
        conn.query_drop("COMMIT").await?;
        let _ = conn.disconnect().await;
        bar.finish();
        let done = Offset {
            snapshot: None,
            ..cut.clone()
        };
        sender.mark(done.clone()).await?;
        info!(tables = total, rows = progress.rows, file = %cut.file, pos = cut.pos,
              "Snapshot complete; streaming starts at its cut.");
        Ok(SnapshotEnd::Complete(done))
    }

    fn snapshot_table_info(&self, table: &SnapshotTable) -> TableInfo {
        TableInfo::new(&self.config, table.schema.clone())
    }

    /// A selected row: the mapped columns in the binlog's value forms, and its cursor.
    fn split_row(
        &self,
        table: &SnapshotTable,
        row: SqlRow,
        name: &str,
    ) -> Result<(Vec<BinlogValue<'static>>, Vec<KeyPart>)> {
        let mut raw = row.unwrap();
        let n = table.defs.len();
        if raw.len() < n {
            return Err(Error::Snapshot {
                table: name.to_owned(),
                reason: format!("the SELECT returned {} of {n} columns", raw.len()),
            });
        }
        let key_raw: Vec<Value> = raw.split_off(n);
        let key = table.cursor(&key_raw).map_err(|reason| Error::Snapshot {
            table: name.to_owned(),
            reason,
        })?;
        let mut values = Vec::with_capacity(n);
        for ((value, def), col) in raw.into_iter().zip(&table.defs).zip(&table.schema.columns) {
            let v = mapping::normalize_selected(col, def.select_as(), value).map_err(|reason| {
                Error::Mapping {
                    table: name.to_owned(),
                    column: col.name.clone(),
                    reason,
                }
            })?;
            values.push(BinlogValue::Value(v));
        }
        Ok((values, key))
    }
}

#[cfg(test)]
mod tests {
    use super::marker;

    #[test]
    fn markers_follow_debezium_precedence() {
        assert_eq!(marker(true, true, false, false), "first");
        assert_eq!(marker(false, false, false, false), "true");
        assert_eq!(
            marker(false, true, false, false),
            "first_in_data_collection"
        );
        // A one-row table in the middle: last wins over first.
        assert_eq!(marker(false, true, false, true), "last_in_data_collection");
        assert_eq!(marker(true, true, true, true), "last");
        assert_eq!(marker(false, false, true, true), "last");
    }
}
