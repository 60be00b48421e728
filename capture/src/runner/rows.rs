//! Rows events to records: the captured table's info built from its table map, each row
//! mapped, transaction counters kept, failures sent to the dead-letter topic.

use std::sync::Arc;

use mysql_common::binlog::events::{BinlogEventHeader, Event, RowsEventData, TableMapEvent};

use super::Capture;
use super::dead_letter::Failure;
use super::records::RecordBuilder;
use super::state::{State, TableInfo};
use crate::binlog::events;
use crate::binlog::rows::{RowImages, present};
use crate::envelope::{self, Op, Source, Transaction, TransactionStatus};
use crate::mapping::TableSchema;
use crate::schema::history::RecordPosition;
use crate::schema::model::TableId;
use crate::sink::Record;
use crate::{Error, Result};

impl Capture {
    pub(super) fn table_info(
        &self,
        table_id: u64,
        state: &mut State,
    ) -> Result<Option<Arc<TableInfo>>> {
        if let Some(info) = state.tables.get(&table_id) {
            return Ok(info.clone());
        }
        let Some(tme) = state.table_maps.get(&table_id) else {
            return Err(Error::Decode {
                event: "ROWS_EVENT".into(),
                file: state.file.clone(),
                pos: state.resume.pos,
                reason: format!("no table map for table id {table_id}"),
            });
        };
        let (db, table) = (tme.database_name(), tme.table_name());
        let info = if self.config.filter.includes(&db, &table) {
            let schema = TableSchema::from_tme(tme).map_err(|reason| Error::Mapping {
                table: format!("{db}.{table}"),
                column: "*".into(),
                reason,
            })?;
            Some(Arc::new(TableInfo::new(&self.config, schema)))
        } else {
            None
        };
        state.tables.insert(table_id, info.clone());
        Ok(info)
    }

    pub(super) fn rows_to_records(
        &self,
        event: &Event,
        rows: &RowsEventData<'_>,
        state: &mut State,
        start: u64,
    ) -> Result<Vec<Record>> {
        let info = match self.table_info(rows.table_id(), state) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Vec::new()),
            Err(error) => {
                let (table, topic) = state.table_maps.get(&rows.table_id()).map_or_else(
                    || ("?".to_owned(), String::new()),
                    |t| {
                        let (db, table) = (t.database_name(), t.table_name());
                        (format!("{db}.{table}"), self.config.topic_for(&db, &table))
                    },
                );
                return Ok(vec![self.dead_letter_or_fail(Failure {
                    table: &table,
                    topic: &topic,
                    file: &state.file,
                    pos: start,
                    row: 0,
                    stage: "TASK_POLL",
                    error,
                })?]);
            }
        };
        let kind = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => Op::Create,
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => Op::Update,
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => Op::Delete,
            RowsEventData::PartialUpdateRowsEvent(_) => {
                return Err(Error::UnsupportedEvent {
                    name: "PARTIAL_UPDATE_ROWS_EVENT".into(),
                    type_code: 39,
                    file: state.file.clone(),
                    pos: start,
                    hint:
                        "partial JSON updates cannot be captured; set binlog_row_value_options=''"
                            .into(),
                });
            }
        };
        let ts = i64::from(event.header().timestamp());
        let now = chrono::Utc::now();
        let table_name = info.qualified.as_str();
        let txn = match (
            self.config.provide_transaction_metadata,
            state.group.as_ref(),
        ) {
            (true, Some(g)) => Some(Transaction {
                id: g.txn_id(&state.file),
                total_order: g.txn_total,
                data_collection_order: g
                    .txn_tables
                    .iter()
                    .find(|(t, _)| *t == table_name)
                    .map_or(0, |(_, n)| *n),
            }),
            _ => None,
        };
        let mut builder = RecordBuilder {
            txn,
            capture: self,
            info: &info,
            source: Source {
                version: self.version.clone(),
                connector: envelope::CONNECTOR,
                name: self.prefix.clone(),
                ts_ms: ts * 1000,
                snapshot: "false",
                db: info.db.clone(),
                sequence: None,
                ts_us: ts * 1_000_000,
                ts_ns: ts * 1_000_000_000,
                table: info.table.clone(),
                server_id: event.header().server_id(),
                gtid: state
                    .group
                    .as_ref()
                    .and_then(|g| g.offset.gtid.as_deref().map(Into::into)),
                file: state.source_file(),
                pos: start,
                row: 0,
                thread: None,
                query: if self.config.include_query {
                    state.annotate.as_deref().map(Into::into)
                } else {
                    None
                },
            },
            // Every record of the event has this source but for `row`: written once.
            source_json: None,
            made: 0,
            now_us: now.timestamp_micros(),
        };
        let mut out = Vec::new();
        let columns = info.schema.columns.len();
        let before = rows
            .columns_before_image()
            .map(|b| present(|i| b.get(i).is_some_and(|bit| *bit), columns));
        let after = rows
            .columns_after_image()
            .map(|b| present(|i| b.get(i).is_some_and(|bit| *bit), columns));
        let images = RowImages::new(rows.rows_data(), &info.schema, before, after);
        for (index, row) in images.enumerate() {
            let failure = |error| Failure {
                table: table_name,
                topic: &info.topic,
                file: &state.file,
                pos: start,
                row: index as u32,
                stage: "TASK_POLL",
                error,
            };
            let (before, after) = match row {
                Ok(images) => images,
                Err(e) => {
                    // The rest of the event cannot be read past an undecodable row.
                    out.push(self.dead_letter_or_fail(failure(Error::Decode {
                        event: events::event_type_name(event.header().event_type_raw()).to_owned(),
                        file: state.file.clone(),
                        pos: start,
                        reason: format!("row {index} of `{table_name}`: {e}"),
                    }))?);
                    break;
                }
            };
            let mapped = before
                .map(|r| builder.row(&r))
                .transpose()
                .and_then(|b| Ok((b, after.map(|r| builder.row(&r)).transpose()?)));
            match mapped {
                Ok((before, after)) => {
                    builder.records(kind, index as u32, before, after, &mut out)?;
                }
                Err(error) => out.push(self.dead_letter_or_fail(failure(error))?),
            }
        }
        if let (Some(t), Some(g)) = (builder.txn.take(), state.group.as_mut())
            && t.total_order > g.txn_total
        {
            match g.txn_tables.iter_mut().find(|(t, _)| *t == table_name) {
                Some((_, n)) => *n = t.data_collection_order,
                None => g
                    .txn_tables
                    .push((table_name.to_owned(), t.data_collection_order)),
            }
            g.txn_total = t.total_order;
            if !g.begun {
                g.begun = true;
                let begin = TransactionStatus {
                    status: "BEGIN",
                    id: t.id,
                    event_count: None,
                    data_collections: None,
                    ts_ms: g.ts_ms,
                };
                if let Some(record) = self.txn_record(&begin, &state.file, g.start_pos)? {
                    out.insert(0, record);
                }
            }
        }
        Ok(out)
    }

    /// A new table map of a captured table: its columns checked against the schema history
    /// (which reads the table from the server when they differ; ADR 0045).
    pub(super) async fn check_table_map(
        &self,
        state: &mut State,
        tme: &TableMapEvent<'_>,
        header: &BinlogEventHeader,
        start: u64,
    ) -> Result<()> {
        let (db, table) = (tme.database_name(), tme.table_name());
        if !self.config.filter.includes(&db, &table) {
            return Ok(());
        }
        // A table map that cannot be read is reported with its rows (`table_info`).
        let Ok(schema) = TableSchema::from_tme(tme) else {
            return Ok(());
        };
        let names: Vec<String> = schema.columns.into_iter().map(|c| c.name).collect();
        let position = RecordPosition {
            file: state.file.clone(),
            pos: start,
            gtids: state.gtid_position(),
            ts_sec: i64::from(header.timestamp()),
            server_id: header.server_id(),
            snapshot: false,
        };
        state
            .history
            .check_table_map(&TableId::new(db, table), &names, position)
            .await
    }
}
