//! Row changes to Kafka records: envelope, key, tombstones, primary-key changes, transaction
//! block, transforms.

use mysql_common::binlog::value::BinlogValue;
use serde_json::Value as Json;

use super::{Capture, TableInfo};
use crate::envelope::{self, Envelope, Op, Row, Source, Transaction};
use crate::mapping;
use crate::sink::Record;
use crate::{Error, Result};

pub(super) struct RecordBuilder<'a> {
    /// Transaction counters so far (`provide.transaction.metadata`).
    pub(super) txn: Option<Transaction>,
    pub(super) capture: &'a Capture,
    pub(super) info: &'a TableInfo,
    pub(super) source: Source,
    pub(super) now_us: i64,
}

impl RecordBuilder<'_> {
    /// A binlog row image, mapped.
    pub(super) fn row(&self, row: &mysql_common::binlog::row::BinlogRow) -> Result<Row> {
        self.check_len(row.len())?;
        self.map_columns(|i| row.as_ref(i))
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

    fn table(&self) -> String {
        format!("{}.{}", self.info.schema.db, self.info.schema.table)
    }

    fn check_len(&self, len: usize) -> Result<()> {
        let cols = self.info.schema.columns.len();
        if len != cols {
            return Err(Error::Mapping {
                table: self.table(),
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
                            table: self.table(),
                            column: col.name.clone(),
                            reason,
                        },
                    )?,
                    None => Json::Null,
                };
            values.push((col.name.clone(), value));
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

    fn json<T: serde::Serialize>(&self, payload: &T, schema: Option<&Json>) -> Result<Vec<u8>> {
        envelope::to_json(payload, schema).map_err(|e| Error::Mapping {
            table: format!("{}.{}", self.info.schema.db, self.info.schema.table),
            column: "*".into(),
            reason: e.to_string(),
        })
    }

    fn record(
        &mut self,
        op: Op,
        row_index: u32,
        before: Option<Row>,
        after: Option<Row>,
        key: Option<&Row>,
    ) -> Result<Option<Record>> {
        let cfg = &self.capture.config;
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
        };
        let value = match &cfg.extract_new_record_state {
            Some(t) => match t.apply(&env) {
                Some(row) => self.json(&row, None)?,
                None => return Ok(None),
            },
            None => self.json(&env, cfg.value_schemas.then_some(&self.info.schemas.value))?,
        };
        Ok(Some(Record {
            topic: self.info.topic.clone(),
            key: self.key_bytes(key)?,
            value: Some(value),
        }))
    }

    fn key_bytes(&self, key: Option<&Row>) -> Result<Option<Vec<u8>>> {
        let cfg = &self.capture.config;
        key.map(|k| {
            self.json(
                k,
                if cfg.key_schemas {
                    self.info.schemas.key.as_ref()
                } else {
                    None
                },
            )
        })
        .transpose()
    }

    fn tombstone(&self, key: Option<&Row>) -> Result<Option<Record>> {
        if self
            .capture
            .config
            .extract_new_record_state
            .as_ref()
            .is_some_and(|t| !t.keeps_tombstones())
        {
            return Ok(None);
        }
        Ok(Some(Record {
            topic: self.info.topic.clone(),
            key: self.key_bytes(key)?,
            value: None,
        }))
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
                    out.extend(self.tombstone(key.as_ref())?);
                }
            }
            Op::Update => {
                let old_key = before.as_ref().and_then(|b| self.key(b));
                let new_key = after.as_ref().and_then(|a| self.key(a));
                if old_key != new_key {
                    out.extend(self.record(Op::Delete, index, before, None, old_key.as_ref())?);
                    if tombstones {
                        out.extend(self.tombstone(old_key.as_ref())?);
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
