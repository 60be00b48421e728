//! Row changes to Kafka records: envelope, key, tombstones, primary-key changes, transaction
//! block, transforms.

use mysql_common::binlog::value::BinlogValue;
use serde_json::Value as Json;

use super::Capture;
use super::dead_letter::Failure;
use super::output::Unfinished;
use super::state::TableInfo;
use crate::envelope::{Envelope, Op, Row, Source, SourceJson, Transaction};
use crate::mapping;
use crate::sink::Record;
use crate::transforms::{ConnectRecord, Payload};
use crate::{Error, Result};

pub(super) struct RecordBuilder<'a> {
    /// Transaction counters so far (`provide.transaction.metadata`).
    pub(super) txn: Option<Transaction>,
    pub(super) capture: &'a Capture,
    pub(super) info: &'a TableInfo,
    pub(super) source: Source,
    /// `source` written once for all the builder's records from the second on (`None`:
    /// written per record; a builder of one record gains nothing from it).
    pub(super) source_json: Option<SourceJson>,
    /// Records made so far.
    pub(super) made: u32,
    pub(super) now_us: i64,
}

impl RecordBuilder<'_> {
    /// A binlog row image, mapped.
    pub(super) fn row(&self, row: &[Option<BinlogValue<'_>>]) -> Result<Row> {
        self.check_len(row.iter().filter(|v| v.is_some()).count())?;
        self.map_columns(|i| row.get(i).and_then(Option::as_ref))
    }

    /// A row as the snapshot selected it, already reshaped to the binlog's value forms
    /// ([`mapping::normalize_selected`]), mapped by the same code as [`row`](Self::row).
    /// Values Debezium's snapshot writes differently are then brought into that form
    /// ([`mapping::snapshot_form`]).
    pub(super) fn selected_row(&self, values: &[BinlogValue<'static>]) -> Result<Row> {
        self.check_len(values.len())?;
        let Row(values) = self.map_columns(|i| values.get(i))?;
        let cols = &self.info.schema.columns;
        Ok(Row(values
            .into_iter()
            .zip(cols)
            .map(|((name, v), col)| (name, mapping::snapshot_form(col, v)))
            .collect()))
    }

    fn table(&self) -> &str {
        &self.info.qualified
    }

    fn check_len(&self, len: usize) -> Result<()> {
        let cols = self.info.schema.columns.len();
        if len != cols {
            return Err(Error::Mapping {
                table: self.table().to_owned(),
                column: "*".into(),
                reason: format!(
                    "the row image has {len} of {cols} columns: set binlog_row_image=FULL"
                ),
            });
        }
        Ok(())
    }

    fn map_columns<'v>(&self, get: impl Fn(usize) -> Option<&'v BinlogValue<'v>>) -> Result<Row> {
        let cols = &self.info.schema.columns;
        let mut values = Vec::with_capacity(cols.len());
        for (i, col) in cols.iter().enumerate() {
            let value =
                match get(i) {
                    Some(v) => mapping::map_value(col, v, &self.capture.config.handling).map_err(
                        |reason| Error::Mapping {
                            table: self.table().to_owned(),
                            column: col.name.clone(),
                            reason,
                        },
                    )?,
                    None => Json::Null,
                };
            values.push((self.info.names[i].clone(), value));
        }
        Ok(Row(values))
    }

    fn key(&self, row: &Row) -> Option<Row> {
        if self.info.key_columns.is_empty() {
            return None;
        }
        Some(Row(self
            .info
            .key_columns
            .iter()
            .map(|i| row.0[*i].clone())
            .collect()))
    }

    /// Runs a change event or tombstone through the transforms; a transform's failure is a
    /// dead letter (`errors.tolerance=all`) or the error.
    fn finish(&self, record: ConnectRecord, row_index: u32) -> Result<Option<Record>> {
        match self
            .capture
            .finish(record, Some(&self.info.schemas), self.table())
        {
            Ok(out) => Ok(out),
            Err(Unfinished::Other(e)) => Err(e),
            Err(Unfinished::Transform(t)) => {
                let table = self.table();
                let error = Error::Transform {
                    alias: t.alias,
                    table: table.to_owned(),
                    file: self.source.file.to_string(),
                    pos: self.source.pos,
                    reason: t.reason,
                };
                self.capture
                    .dead_letter_or_fail(Failure {
                        table,
                        topic: &self.info.topic,
                        file: &self.source.file,
                        pos: self.source.pos,
                        row: row_index,
                        stage: "TRANSFORMATION",
                        error,
                    })
                    .map(Some)
            }
        }
    }

    fn record(
        &mut self,
        op: Op,
        row_index: u32,
        before: Option<Row>,
        after: Option<Row>,
        key: Option<&Row>,
    ) -> Result<Option<Record>> {
        if self.made > 0 && self.source_json.is_none() {
            self.source_json = SourceJson::new(&self.source).ok();
        }
        self.made += 1;
        let mut source = self.source.clone();
        source.row = row_index;
        let env = Envelope {
            before,
            after,
            source,
            transaction: self.txn.as_mut().map(|t| {
                t.total_order += 1;
                t.data_collection_order += 1;
                t.clone()
            }),
            op: op.code(),
            ts_ms: self.now_us / 1000,
            ts_us: self.now_us,
            ts_ns: self.now_us * 1000,
            source_json: self.source_json.clone(),
        };
        let record = ConnectRecord {
            topic: self.info.topic.clone(),
            key: key.cloned().map(Payload::Row),
            value: Some(Payload::envelope(env)),
            headers: Vec::new(),
        };
        self.finish(record, row_index)
    }

    fn tombstone(&self, key: Option<&Row>, row_index: u32) -> Result<Option<Record>> {
        let record = ConnectRecord {
            topic: self.info.topic.clone(),
            key: key.cloned().map(Payload::Row),
            value: None,
            headers: Vec::new(),
        };
        self.finish(record, row_index)
    }

    /// The records of one row change: a delete is followed by a tombstone; a primary-key
    /// update is a delete (+ tombstone) of the old key and a create of the new one.
    pub(super) fn records(
        &mut self,
        op: Op,
        index: u32,
        before: Option<Row>,
        after: Option<Row>,
        out: &mut Vec<Record>,
    ) -> Result<()> {
        let tombstones = self.capture.config.tombstones_on_delete;
        match op {
            Op::Delete => {
                let key = before.as_ref().and_then(|b| self.key(b));
                out.extend(self.record(Op::Delete, index, before, None, key.as_ref())?);
                if tombstones {
                    out.extend(self.tombstone(key.as_ref(), index)?);
                }
            }
            Op::Update => {
                let old_key = before.as_ref().and_then(|b| self.key(b));
                let new_key = after.as_ref().and_then(|a| self.key(a));
                if old_key != new_key {
                    out.extend(self.record(Op::Delete, index, before, None, old_key.as_ref())?);
                    if tombstones {
                        out.extend(self.tombstone(old_key.as_ref(), index)?);
                    }
                    out.extend(self.record(Op::Create, index, None, after, new_key.as_ref())?);
                } else {
                    out.extend(self.record(Op::Update, index, before, after, new_key.as_ref())?);
                }
            }
            _ => {
                let key = after.as_ref().and_then(|a| self.key(a));
                out.extend(self.record(op, index, None, after, key.as_ref())?);
            }
        }
        Ok(())
    }
}
