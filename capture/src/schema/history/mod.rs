//! The persisted schema history (ADR 0044): every DDL statement that touches captured tables
//! is applied to the model and stored, with the tables after it, before its change events go
//! out; a restart reads the history back up to its resume point. It starts with a schema
//! snapshot of the captured tables, as Debezium's does.

mod file;
mod kafka;
mod record;

use std::collections::HashSet;

use mysql_async::Conn;
use serde_json::Value as Json;
use tracing::{info, warn};

pub use file::FileHistory;
pub use kafka::KafkaHistory;
pub use record::{HistoryRecord, RecordPosition};

use super::ddl::{self, DdlTarget};
use super::model::{ChangeKind, Table, TableChange, TableId};
use super::server::{self, SchemaSnapshot};
use super::tables::{SchemaEvent, Tables};
use crate::config::{ConnectorConfig, HistoryStorage, TableFilter};
use crate::offsets::Offset;
use crate::{Error, Result};

/// Where the records are kept.
#[derive(Debug)]
enum Store {
    File(FileHistory),
    Kafka(KafkaHistory),
}

/// The schema model and its persisted history.
pub(crate) struct SchemaHistory {
    tables: Tables,
    store: Store,
    describe: String,
    /// `topic.prefix` (the records' `source.server`).
    server: String,
    filter: TableFilter,
    opts: mysql_async::Opts,
    conn: Option<Conn>,
    /// Records found in the store at all.
    stored: usize,
    /// Statements at or after the resume point that are stored already: applied again when read
    /// again from the binlog, not stored twice.
    ahead: HashSet<(String, u64)>,
    /// Where the last schema snapshot was taken: statements before it are in it already.
    snapshot_at: Option<(String, u64)>,
    /// Tables whose disagreement with the binlog was reported already.
    warned: HashSet<TableId>,
}

impl std::fmt::Debug for SchemaHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaHistory")
            .field("store", &self.describe)
            .field("tables", &self.tables.iter().count())
            .finish_non_exhaustive()
    }
}

impl SchemaHistory {
    /// Opens the configured store (creating the Kafka topic when missing); nothing is read yet.
    pub(crate) async fn open(config: &ConnectorConfig) -> Result<Self> {
        let store = match &config.history_storage {
            HistoryStorage::File { path } => Store::File(FileHistory::new(path)),
            HistoryStorage::Kafka {
                topic,
                bootstrap_servers,
            } => Store::Kafka(
                KafkaHistory::open(
                    bootstrap_servers,
                    topic,
                    &crate::offsets::client_properties(config),
                )
                .await?,
            ),
        };
        Ok(Self {
            tables: Tables::default(),
            store,
            describe: config.history_storage.describe(),
            server: config.topic_prefix.clone(),
            filter: config.filter.clone(),
            opts: config.mysql_opts(),
            conn: None,
            stored: 0,
            ahead: HashSet::new(),
            snapshot_at: None,
            warned: HashSet::new(),
        })
    }

    /// Whether the store held no record: a schema snapshot must be taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.stored == 0
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::History {
            store: self.describe.clone(),
            reason: reason.to_string(),
        }
    }

    /// Reads the history back: the last schema snapshot and every statement before
    /// `(file, pos)` (where streaming resumes); later ones are applied when read again.
    pub(crate) async fn recover(&mut self, file: &str, pos: u64) -> Result<()> {
        let values = match &self.store {
            Store::File(f) => f.load()?,
            Store::Kafka(k) => k.load().await?,
        };
        self.stored = values.len();
        let mut previous_snapshot = false;
        let mut applied = 0usize;
        for v in &values {
            let record = HistoryRecord::from_json(v).map_err(|e| self.err(e))?;
            let p = &record.position;
            // A schema snapshot starts with its SET statement.
            if p.snapshot
                && (!previous_snapshot || record.ddl.starts_with("SET character_set_server="))
            {
                // A new schema snapshot replaces everything before it.
                self.tables.clear();
                self.snapshot_at = Some((p.file.clone(), p.pos));
            }
            previous_snapshot = p.snapshot;
            if p.snapshot || p.before(file, pos) {
                self.replay(&record);
                applied += 1;
            } else {
                self.ahead.insert((p.file.clone(), p.pos));
            }
        }
        if !values.is_empty() {
            info!(store = %self.describe, records = values.len(), applied,
                  tables = self.tables.iter().count(), "Schema history recovered.");
        }
        Ok(())
    }

    /// Applies a stored record: its table changes, or (database and SET statements) its DDL.
    fn replay(&mut self, record: &HistoryRecord) {
        for change in &record.changes {
            self.tables.apply_change(change);
        }
        if !record.changes.is_empty() {
            return;
        }
        if let Some(rest) = record.ddl.strip_prefix("SET character_set_server=") {
            let cs = rest.split(',').next().unwrap_or(rest).trim();
            self.tables.server_charset = Some(cs.to_owned());
        } else if let Ok(statement @ ddl::ast::Statement::Database { .. }) = ddl::parse(&record.ddl)
        {
            let _ = self
                .tables
                .apply(&statement, &record.ddl, &record.database, &|_| false);
        }
    }

    async fn persist(&mut self, records: &[HistoryRecord]) -> Result<()> {
        let values: Vec<Json> = records.iter().map(|r| r.to_json(&self.server)).collect();
        match &self.store {
            Store::File(f) => f.append(&values)?,
            Store::Kafka(k) => k.append(&values).await?,
        }
        self.stored += values.len();
        for r in records {
            self.ahead.insert((r.position.file.clone(), r.position.pos));
        }
        Ok(())
    }

    /// Records a schema snapshot taken at `at`: the model is rebuilt from it and stored as
    /// Debezium's snapshot statements (SET, DROP TABLE, DROP/CREATE DATABASE, USE, CREATE
    /// TABLE); the same statements come back as schema change events.
    pub(crate) async fn record_snapshot(
        &mut self,
        snapshot: SchemaSnapshot,
        at: &Offset,
    ) -> Result<Vec<SchemaEvent>> {
        self.tables.clear();
        self.ahead.clear();
        let (cs, coll) = &snapshot.server;
        self.tables.server_charset = Some(cs.clone());
        for (db, charset) in &snapshot.db_charsets {
            self.tables.set_db_charset(db, charset);
        }
        let event = |database: &str, ddl: String, change: Option<TableChange>| SchemaEvent {
            database: database.to_owned(),
            ddl,
            change,
        };
        let mut events = vec![event(
            "",
            format!("SET character_set_server={cs}, collation_server={coll}"),
            None,
        )];
        for (id, _) in &snapshot.tables {
            events.push(event(
                &id.db,
                format!("DROP TABLE IF EXISTS {}", id.back_quoted()),
                Some(TableChange {
                    kind: ChangeKind::Drop,
                    id: id.clone(),
                    table: None,
                }),
            ));
        }
        for (db, charset, collation) in &snapshot.databases {
            let quoted = format!("`{}`", db.replace('`', "``"));
            events.push(event(db, format!("DROP DATABASE IF EXISTS {quoted}"), None));
            let mut create = format!("CREATE DATABASE {quoted}");
            if !charset.is_empty() {
                create.push_str(&format!(" CHARSET {charset}"));
            }
            if !collation.is_empty() {
                create.push_str(&format!(" COLLATE {collation}"));
            }
            events.push(event(db, create, None));
            events.push(event(db, format!("USE {quoted}"), None));
            for (id, ddl) in snapshot.tables.iter().filter(|(id, _)| id.db == *db) {
                let change = match ddl::parse(ddl)
                    .map_err(|reason| super::tables::Unapplied { reason })
                    .and_then(|s| self.tables.apply(&s, ddl, db, &|_| true))
                {
                    Ok(mut applied) => applied.pop().and_then(|e| e.change),
                    Err(e) => {
                        warn!(table = %id.double_quoted(), reason = %e.reason,
                              "The table's CREATE TABLE could not be read; its schema change \
                               events carry no description (rows still decode by the binlog).");
                        None
                    }
                };
                events.push(event(db, ddl.clone(), change));
            }
        }
        let now = chrono::Utc::now();
        let position = RecordPosition {
            file: at.file.clone(),
            pos: at.pos,
            gtids: at.gtid_position.clone(),
            ts_sec: now.timestamp(),
            server_id: 0,
            snapshot: true,
        };
        let records: Vec<HistoryRecord> = events
            .iter()
            .map(|e| HistoryRecord {
                position: position.clone(),
                ts_ms: now.timestamp_millis(),
                database: e.database.clone(),
                ddl: e.ddl.clone(),
                changes: e.change.iter().cloned().collect(),
            })
            .collect();
        self.persist(&records).await?;
        self.snapshot_at = Some((at.file.clone(), at.pos));
        info!(store = %self.describe, tables = snapshot.tables.len(), file = %at.file, pos = at.pos,
              "Schema snapshot recorded.");
        Ok(events)
    }

    fn captures(&self, target: &DdlTarget) -> bool {
        match &target.table {
            Some(table) => self.filter.includes(&target.db, table),
            None => self.filter.includes_database(&target.db),
        }
    }

    /// A DDL statement read from the binlog at `position` (run with default database
    /// `session_db`): applied to the model and stored; its schema change events. Statements
    /// that concern no captured table or database give none. A statement the parser cannot
    /// apply is logged and its table read from the server instead: it never stops capture.
    pub(crate) async fn on_statement(
        &mut self,
        sql: &str,
        session_db: &str,
        position: RecordPosition,
    ) -> Result<Vec<SchemaEvent>> {
        let Some(target) = ddl::target(sql, session_db) else {
            return Ok(Vec::new());
        };
        if !self.captures(&target) {
            return Ok(Vec::new());
        }
        let filter = self.filter.clone();
        let captured = move |id: &TableId| filter.includes(&id.db, &id.table);
        if let Some((file, pos)) = &self.snapshot_at
            && position.before(file, *pos)
        {
            // The schema snapshot is newer than this statement: it is in the model already.
            let mut scratch = self.tables.clone();
            return Ok(ddl::parse(sql)
                .ok()
                .and_then(|s| scratch.apply(&s, sql, session_db, &captured).ok())
                .unwrap_or_else(|| vec![table_less(&target, session_db, sql)]));
        }
        let applied = match ddl::parse(sql) {
            Ok(statement) => self
                .tables
                .apply(&statement, sql, session_db, &captured)
                .map_err(|e| e.reason),
            Err(reason) => Err(reason),
        };
        let mut events = match applied {
            Ok(events) => events,
            Err(reason) => {
                warn!(statement = %sql, %reason, file = %position.file, pos = position.pos,
                      "DDL not understood; reading the table's schema from the server instead.");
                self.read_after_failure(&target, session_db, sql).await?
            }
        };
        // A statement that changes no table is kept under its database only when that is
        // captured (or none), as Debezium with `store.only.captured.databases.ddl`.
        events.retain(|e| {
            e.change.is_some()
                || e.database.is_empty()
                || self.filter.includes_database(&e.database)
        });
        if !self.ahead.contains(&(position.file.clone(), position.pos)) {
            let records: Vec<HistoryRecord> = events
                .iter()
                .map(|e| HistoryRecord {
                    position: position.clone(),
                    ts_ms: chrono::Utc::now().timestamp_millis(),
                    database: e.database.clone(),
                    ddl: e.ddl.clone(),
                    changes: e.change.iter().cloned().collect(),
                })
                .collect();
            self.persist(&records).await?;
        }
        Ok(events)
    }

    async fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            self.conn = Some(Conn::new(self.opts.clone()).await?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Error::Task("no metadata connection".into()))
    }

    /// The table as the server has it now, from `SHOW CREATE TABLE`.
    async fn read_table(&mut self, id: &TableId) -> Result<ServerTable> {
        let Some(ddl) = server::show_create(self.conn().await?, id).await? else {
            return Ok(ServerTable::Gone);
        };
        let mut scratch = self.tables.clone();
        scratch.remove(id);
        let table = ddl::parse(&ddl)
            .map_err(|reason| super::tables::Unapplied { reason })
            .and_then(|s| scratch.apply(&s, &ddl, &id.db, &|_| true))
            .map(|mut e| e.pop().and_then(|e| e.change).and_then(|c| c.table));
        Ok(match table {
            Ok(Some(t)) => ServerTable::Read(t, ddl),
            Ok(None) => ServerTable::Unreadable("no table in SHOW CREATE TABLE".into()),
            Err(e) => ServerTable::Unreadable(e.reason),
        })
    }

    /// The events of a statement the parser could not apply, from the server's schema of its
    /// table (the model follows).
    async fn read_after_failure(
        &mut self,
        target: &DdlTarget,
        session_db: &str,
        sql: &str,
    ) -> Result<Vec<SchemaEvent>> {
        let Some(name) = &target.table else {
            return Ok(vec![table_less(target, session_db, sql)]);
        };
        let id = TableId::new(&target.db, name);
        let known = self.tables.get(&id).is_some();
        let change = match self.read_table(&id).await? {
            ServerTable::Read(table, _) => {
                self.tables.put(table.clone());
                TableChange {
                    kind: if known {
                        ChangeKind::Alter
                    } else {
                        ChangeKind::Create
                    },
                    id: id.clone(),
                    table: Some(table),
                }
            }
            ServerTable::Gone => {
                self.tables.remove(&id);
                TableChange {
                    kind: ChangeKind::Drop,
                    id: id.clone(),
                    table: None,
                }
            }
            ServerTable::Unreadable(reason) => {
                warn!(table = %id.double_quoted(), %reason,
                      "The server's CREATE TABLE could not be read either; the schema change \
                       event carries no table description.");
                return Ok(vec![table_less(target, session_db, sql)]);
            }
        };
        Ok(vec![SchemaEvent {
            database: id.db.clone(),
            ddl: sql.to_owned(),
            change: Some(change),
        }])
    }

    /// Checks the model's columns of `id` against a table map's (`binlog_names`, in order) at
    /// `position`. They differ when the history missed a statement (or predates the table):
    /// the table is then read from the server, and kept when the server agrees with the
    /// binlog. Decoding never depends on it: rows decode by their table map.
    pub(crate) async fn check_table_map(
        &mut self,
        id: &TableId,
        binlog_names: &[String],
        position: RecordPosition,
    ) -> Result<()> {
        let same = |t: &Table| {
            t.columns.len() == binlog_names.len()
                && t.columns
                    .iter()
                    .zip(binlog_names)
                    .all(|(c, n)| c.name.eq_ignore_ascii_case(n))
        };
        if self.tables.get(id).is_some_and(same) {
            return Ok(());
        }
        let read = self.read_table(id).await?;
        match read {
            ServerTable::Read(table, ddl) if same(&table) => {
                let kind = if self.tables.get(id).is_some() {
                    ChangeKind::Alter
                } else {
                    ChangeKind::Create
                };
                if self.tables.get(id).is_some() {
                    warn!(table = %id.double_quoted(), file = %position.file, pos = position.pos,
                          "The schema history did not match the binlog's table map; took the \
                           table's schema from the server.");
                }
                self.tables.put(table.clone());
                self.persist(&[HistoryRecord {
                    position,
                    ts_ms: chrono::Utc::now().timestamp_millis(),
                    database: id.db.clone(),
                    ddl,
                    changes: vec![TableChange {
                        kind,
                        id: id.clone(),
                        table: Some(table),
                    }],
                }])
                .await?;
            }
            _ => {
                if self.warned.insert(id.clone()) {
                    warn!(table = %id.double_quoted(), file = %position.file, pos = position.pos,
                          binlog = ?binlog_names,
                          "Neither the schema history nor the server's current schema match the \
                           binlog's table map (the table changed since); rows decode by the table \
                           map, but this table's tableChanges and Connect defaults may be off \
                           until its next DDL.");
                }
            }
        }
        Ok(())
    }
}

/// A table as the server has it now.
enum ServerTable {
    /// It does not exist.
    Gone,
    /// Read: the table and its `SHOW CREATE TABLE`.
    Read(Table, String),
    /// Its `SHOW CREATE TABLE` could not be read, and why.
    Unreadable(String),
}

/// The event of a statement that changes no table.
fn table_less(target: &DdlTarget, session_db: &str, sql: &str) -> SchemaEvent {
    SchemaEvent {
        database: if target.table.is_none() && sql_is_database_statement(sql) {
            target.db.clone()
        } else {
            session_db.to_owned()
        },
        ddl: sql.to_owned(),
        change: None,
    }
}

fn sql_is_database_statement(sql: &str) -> bool {
    matches!(ddl::parse(sql), Ok(ddl::ast::Statement::Database { .. }))
}
