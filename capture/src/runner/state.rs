//! What the binlog loop keeps between events: the table infos, the event group in progress,
//! the resume point; and what survives a reconnect.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mysql_common::binlog::events::TableMapEvent;

use crate::binlog::events::Gtid;
use crate::config::ConnectorConfig;
use crate::envelope::EnvelopeSchemas;
use crate::mapping::TableSchema;
use crate::offsets::{Offset, format_gtid_position};
use crate::schema::history::SchemaHistory;

/// A captured table as the binlog (or the snapshot) describes it, with what is built from it.
pub(super) struct TableInfo {
    pub(super) schema: TableSchema,
    pub(super) schemas: EnvelopeSchemas,
    pub(super) topic: String,
    pub(super) key_columns: Vec<usize>,
    /// The column names, shared by every row's values.
    pub(super) names: Vec<Arc<str>>,
    /// The database and table names, shared by every record's `source`.
    pub(super) db: Arc<str>,
    pub(super) table: Arc<str>,
    /// `db.table`, for messages and transaction metadata.
    pub(super) qualified: String,
}

impl TableInfo {
    /// What every record of `schema` shares: schemas, topic, key, names.
    pub(super) fn new(config: &ConnectorConfig, schema: TableSchema) -> Self {
        Self {
            schemas: EnvelopeSchemas::new(&config.topic_prefix, &schema, &config.handling),
            topic: config.topic_for(&schema.db, &schema.table),
            key_columns: schema.key_columns(),
            names: schema
                .columns
                .iter()
                .map(|c| c.name.as_str().into())
                .collect(),
            db: schema.db.as_str().into(),
            table: schema.table.as_str().into(),
            qualified: format!("{}.{}", schema.db, schema.table),
            schema,
        }
    }
}

/// The event group (transaction) in progress.
pub(super) struct Group {
    pub(super) start_pos: u64,
    pub(super) gtid: Option<Gtid>,
    pub(super) standalone: bool,
    pub(super) records: u64,
    /// Binlog time of the group start, ms.
    pub(super) ts_ms: i64,
    /// Transaction metadata: BEGIN sent, change events so far, per table.
    pub(super) begun: bool,
    pub(super) txn_total: u64,
    /// Events per table, in the order the tables first appeared.
    pub(super) txn_tables: Vec<(String, u64)>,
    /// The offset of the group's records, without `skip` (formatted once per group, shared by
    /// its records' pending offsets).
    pub(super) offset: Arc<Offset>,
}

impl Group {
    /// A group starting at `start_pos` of `file`, where the GTID position is `gtid_position`.
    pub(super) fn new(
        file: &str,
        start_pos: u64,
        gtid: Option<Gtid>,
        gtid_position: Option<String>,
        standalone: bool,
        ts_ms: i64,
    ) -> Self {
        Self {
            start_pos,
            gtid,
            standalone,
            records: 0,
            ts_ms,
            begun: false,
            txn_total: 0,
            txn_tables: Vec::new(),
            offset: Arc::new(Offset {
                file: file.to_owned(),
                pos: start_pos,
                skip: 0,
                gtid: gtid.map(|g| g.to_string()),
                gtid_position,
                snapshot: None,
            }),
        }
    }

    pub(super) fn txn_id(&self, file: &str) -> String {
        self.gtid
            .map_or_else(|| format!("{file}:{}", self.start_pos), |g| g.to_string())
    }
}

/// Stream state that survives reconnects.
pub(super) struct State {
    pub(super) file: String,
    pub(super) resume: Offset,
    pub(super) group: Option<Group>,
    pub(super) pending_skip: u64,
    pub(super) sent: u64,
    /// What was built from each table id's map (`None`: not captured). A transaction's
    /// table map that repeats the last one keeps it instead of building it again (3× the
    /// small transactions/s, `make bench BENCH=capture`).
    pub(super) tables: HashMap<u64, Option<Arc<TableInfo>>>,
    /// The last table map of each table id.
    pub(super) table_maps: HashMap<u64, TableMapEvent<'static>>,
    pub(super) annotate: Option<String>,
    /// The GTID position after the last completed group, when known.
    pub(super) gtids: Option<BTreeMap<u32, Gtid>>,
    /// `gtids` as text, written once per change (each group start and end needs it).
    pub(super) gtid_text: Option<String>,
    /// `file` shared by the records' `source` (see [`State::source_file`]).
    pub(super) shared_file: Arc<str>,
    /// The schema model and its persisted history.
    pub(super) history: SchemaHistory,
}

/// Why the binlog loop returned.
pub(super) enum Outcome {
    /// Caught up with the binlog end seen at start (`exit_at_end`).
    ReachedEnd,
    /// `stop_after_records` was reached, or the change stream asked to stop.
    Stopped,
}

impl State {
    pub(super) fn gtid_position(&self) -> Option<String> {
        self.gtid_text.clone()
    }

    /// The binlog file name for a record's `source`, allocated once per file.
    pub(super) fn source_file(&mut self) -> Arc<str> {
        if *self.shared_file != *self.file {
            self.shared_file = self.file.as_str().into();
        }
        self.shared_file.clone()
    }

    /// A group with `gtid` completed: the GTID position moves past it.
    pub(super) fn completed(&mut self, gtid: Gtid) {
        if let Some(gtids) = self.gtids.as_mut() {
            gtids.insert(gtid.domain_id, gtid);
            self.gtid_text = Some(format_gtid_position(gtids));
        }
    }

    /// After a dropped connection: resume at the start of the group in progress and skip the
    /// records of it already sent.
    pub(super) fn prepare_reconnect(&mut self) {
        if let Some(group) = self.group.take() {
            self.resume = Offset {
                file: self.file.clone(),
                pos: group.start_pos,
                skip: group.records,
                gtid: group.gtid.map(|g| g.to_string()),
                gtid_position: self.gtid_position(),
                snapshot: None,
            };
            self.pending_skip = group.records;
        }
        self.file = self.resume.file.clone();
        self.tables.clear();
        self.annotate = None;
    }
}
