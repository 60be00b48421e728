//! The capture loop: binlog events in, Debezium records out to Kafka, offsets stored behind
//! the acknowledgements.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mysql_async::BinlogStream;
use mysql_common::binlog::events::{Event, EventData, RowsEventData};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::binlog::events::{
    self, AnnotateRows, BinlogCheckpoint, Gtid, GtidList, MariadbGtid, Rotate,
};
use crate::binlog::{self, checksum};
use crate::config::{ConnectorConfig, SnapshotMode};
use crate::envelope::{
    self, DataCollection, EnvelopeSchemas, Op, Source, Transaction, TransactionStatus,
};
use crate::mapping::TableSchema;
use crate::offsets::{
    FileOffsetStore, Offset, ResumeBy, format_gtid_position, parse_gtid_position,
};
use crate::sink::{self, KafkaSink, Pending, Record};
use crate::{Error, Result, preflight};

mod ddl;
mod dead_letter;
mod heartbeat;
mod output;
mod plan;
mod records;
mod schema_change;
mod snapshot;

use dead_letter::Failure;
use plan::Plan;
use records::RecordBuilder;
use snapshot::SnapshotEnd;

/// How many times in a row a dropped connection is retried before capture gives up.
const MAX_RECONNECTS: u32 = 10;

/// A configured capture, ready to [`run`](Capture::run).
///
/// ```no_run
/// # async fn demo() -> keel_capture::Result<()> {
/// use keel_capture::{Capture, ConnectorConfig};
///
/// let parsed = ConnectorConfig::from_file("connector.json".as_ref())?;
/// let summary = Capture::new(parsed.config).exit_at_end(true).run().await?;
/// println!("{} records", summary.records_sent);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Capture {
    config: ConnectorConfig,
    start_at: Option<Offset>,
    exit_at_end: bool,
    stop_after: Option<u64>,
    resume_by: ResumeBy,
    show_progress: bool,
    null_sink: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Records handed to Kafka in this run (tombstones included).
    pub records_sent: u64,
    /// Records Kafka acknowledged in this run.
    pub records_acknowledged: u64,
    /// The offset stored last.
    pub offset: Option<Offset>,
}

struct TableInfo {
    /// The table map it was built from (None in a snapshot): a transaction's table map that
    /// repeats it keeps this info instead of building the schemas again (3× the small
    /// transactions/s, `make bench BENCH=capture`).
    tme: Option<mysql_common::binlog::events::TableMapEvent<'static>>,
    schema: TableSchema,
    schemas: EnvelopeSchemas,
    topic: String,
    key_columns: Vec<usize>,
}

struct Group {
    start_pos: u64,
    gtid: Option<Gtid>,
    standalone: bool,
    records: u64,
    /// Binlog time of the group start, ms.
    ts_ms: i64,
    /// Transaction metadata: BEGIN sent, change events so far, per table.
    begun: bool,
    txn_total: u64,
    /// Events per table, in the order the tables first appeared.
    txn_tables: Vec<(String, u64)>,
}

impl Group {
    fn new(start_pos: u64, gtid: Option<Gtid>, standalone: bool, ts_ms: i64) -> Self {
        Self {
            start_pos,
            gtid,
            standalone,
            records: 0,
            ts_ms,
            begun: false,
            txn_total: 0,
            txn_tables: Vec::new(),
        }
    }

    fn txn_id(&self, file: &str) -> String {
        self.gtid
            .map_or_else(|| format!("{file}:{}", self.start_pos), |g| g.to_string())
    }
}

/// Stream state that survives reconnects.
struct State {
    file: String,
    resume: Offset,
    group: Option<Group>,
    pending_skip: u64,
    sent: u64,
    tables: HashMap<u64, Option<Arc<TableInfo>>>,
    annotate: Option<String>,
    /// The GTID position after the last completed group, when known.
    gtids: Option<BTreeMap<u32, Gtid>>,
}

enum Outcome {
    ReachedEnd,
    StoppedAfterLimit,
}

impl Capture {
    /// A capture for `config`: resumes from the offsets file, or starts at the binlog end.
    pub fn new(config: ConnectorConfig) -> Self {
        Self {
            config,
            start_at: None,
            exit_at_end: false,
            stop_after: None,
            resume_by: ResumeBy::Position,
            show_progress: true,
            null_sink: false,
        }
    }

    /// Read, decode, map and serialize every record as usual, but drop it instead of sending
    /// it to Kafka (no producer is created; offsets still advance). The raw rate of our reader,
    /// which `make bench BENCH=capture` compares the real run with.
    pub fn null_sink(mut self, yes: bool) -> Self {
        self.null_sink = yes;
        self
    }

    /// Whether the snapshot draws a progress bar on stderr (default true; never drawn when
    /// stderr is not a terminal).
    pub fn show_progress(mut self, yes: bool) -> Self {
        self.show_progress = yes;
        self
    }

    /// Where to start when the offsets file does not exist yet (instead of the binlog end);
    /// only with `snapshot.mode=no_data` (the other modes start with a snapshot).
    pub fn start_at(mut self, offset: Offset) -> Self {
        self.start_at = Some(offset);
        self
    }

    /// Stop cleanly once caught up with the binlog end seen at start.
    pub fn exit_at_end(mut self, yes: bool) -> Self {
        self.exit_at_end = yes;
        self
    }

    /// How to ask the server for the binlog on start and reconnect (default by position).
    pub fn resume_by(mut self, by: ResumeBy) -> Self {
        self.resume_by = by;
        self
    }

    /// Stop after `n` records were sent (and acknowledged), even within a transaction, as a
    /// crash there would; for restart tests and bounded runs.
    pub fn stop_after_records(mut self, n: u64) -> Self {
        self.stop_after = Some(n);
        self
    }

    /// Runs until the end (with [`exit_at_end`](Self::exit_at_end)), the record limit, or an
    /// error: first the initial snapshot when `snapshot.mode` asks for one, then the binlog.
    /// Offsets of acknowledged records are stored before it returns, also on error.
    pub async fn run(self) -> Result<RunSummary> {
        let opts = self.config.mysql_opts();
        let mut conn = mysql_async::Conn::new(opts.clone()).await?;
        preflight::run(&mut conn).await?;
        let store = FileOffsetStore::new(&self.config.offsets_file);
        let (snapshot, stream_from) = match self.plan(&mut conn, store.load()?).await? {
            Plan::Done(offset) => {
                conn.disconnect().await?;
                return Ok(RunSummary {
                    offset: Some(offset),
                    ..RunSummary::default()
                });
            }
            Plan::Snapshot(resume) => (Some(resume), None),
            Plan::Stream(offset) => {
                let (offset, end) = self.stream_start(&mut conn, offset).await?;
                if let Some(end) = &end
                    && offset.reached(&end.file, end.pos)
                {
                    info!(file = %end.file, pos = end.pos, "Already at the binlog end.");
                    conn.disconnect().await?;
                    return Ok(RunSummary {
                        offset: Some(offset),
                        ..RunSummary::default()
                    });
                }
                (None, Some((offset, end)))
            }
        };
        conn.disconnect().await?;

        let sink = if self.null_sink {
            KafkaSink::null()
        } else {
            KafkaSink::new(&self.config)?
        };
        let (tx, rx) = mpsc::channel(self.config.max_queue_size);
        let acker = tokio::spawn(sink::track_acks(
            rx,
            store,
            Duration::from_millis(self.config.poll_interval_ms),
        ));
        let mut sent = 0u64;
        let result = self
            .snapshot_then_stream(&opts, &sink, &tx, snapshot, stream_from, &mut sent)
            .await;
        drop(tx);
        let acks = match acker.await {
            Ok(acks) => acks,
            Err(join) => Err(Error::Offsets {
                path: self.config.offsets_file.display().to_string(),
                reason: format!("the acknowledgement tracker failed: {join}"),
            }),
        };
        let acks = acks?;
        result?;
        sink.flush(Duration::from_secs(30))?;
        info!(
            records = sent,
            acknowledged = acks.acknowledged,
            "Capture stopped."
        );
        Ok(RunSummary {
            records_sent: sent,
            records_acknowledged: acks.acknowledged,
            offset: acks.stored,
        })
    }

    async fn snapshot_then_stream(
        &self,
        opts: &mysql_async::Opts,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        snapshot: Option<Option<Offset>>,
        stream_from: Option<(Offset, Option<Offset>)>,
        sent: &mut u64,
    ) -> Result<()> {
        let (offset, end) = match (snapshot, stream_from) {
            (Some(resume), _) => {
                let cut = match self.snapshot(opts, sink, tx, resume, sent).await? {
                    SnapshotEnd::StoppedAfterLimit => return Ok(()),
                    SnapshotEnd::Complete(cut) => cut,
                };
                if self.config.snapshot_mode == SnapshotMode::InitialOnly {
                    info!("snapshot.mode=initial_only: stopping after the snapshot.");
                    return Ok(());
                }
                let mut conn = mysql_async::Conn::new(opts.clone()).await?;
                let start = self.stream_start(&mut conn, cut).await?;
                conn.disconnect().await?;
                if let Some(end) = &start.1
                    && start.0.reached(&end.file, end.pos)
                {
                    return Ok(());
                }
                start
            }
            (None, Some(start)) => start,
            (None, None) => return Ok(()),
        };
        info!(file = %offset.file, pos = offset.pos, skip = offset.skip, "Capture starting.");
        let gtids = offset
            .gtid_position
            .as_deref()
            .and_then(parse_gtid_position);
        let mut state = State {
            file: offset.file.clone(),
            pending_skip: offset.skip,
            resume: offset,
            group: None,
            sent: *sent,
            tables: HashMap::new(),
            annotate: None,
            gtids,
        };
        let result = self.stream(opts, sink, tx, &mut state, end.as_ref()).await;
        *sent = state.sent;
        result.map(|_| ())
    }

    async fn stream(
        &self,
        opts: &mysql_async::Opts,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        state: &mut State,
        end: Option<&Offset>,
    ) -> Result<Outcome> {
        let mut failures = 0u32;
        loop {
            let attempt = match binlog::open(
                opts,
                self.config.server_id,
                &state.resume,
                self.resume_by,
            )
            .await
            {
                Ok(mut stream) => {
                    let outcome = self
                        .consume(&mut stream, sink, tx, state, end, &mut failures)
                        .await;
                    if outcome.is_ok() {
                        // Best effort: the server notices a closed dump connection late anyway.
                        let _ = stream.close().await;
                    }
                    outcome
                }
                Err(e) => Err(e),
            };
            match attempt {
                Err(Error::Mysql(error)) if is_connection_loss(&error) => {
                    failures += 1;
                    if failures > MAX_RECONNECTS {
                        return Err(Error::Mysql(error));
                    }
                    let wait = keel_backoff(failures);
                    warn!(%error, attempt = failures, wait_ms = wait.as_millis() as u64, "Binlog connection lost; reconnecting.");
                    tokio::time::sleep(wait).await;
                    state.prepare_reconnect();
                }
                // ER_MASTER_FATAL_ERROR_READING_BINLOG: the position is gone.
                Err(Error::Mysql(mysql_async::Error::Server(e))) if e.code == 1236 => {
                    return Err(Error::PositionUnavailable {
                        file: state.resume.file.clone(),
                        pos: state.resume.pos,
                        reason: e.message,
                        offsets: self.config.offsets_file.display().to_string(),
                    });
                }
                other => return other,
            }
        }
    }

    async fn consume(
        &self,
        stream: &mut BinlogStream,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        state: &mut State,
        end: Option<&Offset>,
        failures: &mut u32,
    ) -> Result<Outcome> {
        let mut beat = (self.config.heartbeat_interval_ms > 0).then(|| {
            let period = Duration::from_millis(self.config.heartbeat_interval_ms);
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = async {
                    match beat.as_mut() {
                        Some(i) => { i.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if self.heartbeat(sink, tx, state).await? {
                        return Ok(Outcome::StoppedAfterLimit);
                    }
                    continue;
                }
            };
            let Some(event) = next else { break };
            let event = event?;
            *failures = 0;
            checksum::verify(&event, &state.file)?;
            let header = event.header();
            let code = header.event_type_raw();
            let log_pos = u64::from(header.log_pos());
            let start = log_pos.saturating_sub(u64::from(header.event_size()));
            let decode_err = |e: events::EventError| Error::Decode {
                event: e.event.to_owned(),
                file: state.file.clone(),
                pos: start,
                reason: e.reason,
            };
            match code {
                events::MARIADB_GTID => {
                    let g = MariadbGtid::decode(event.data(), header.server_id())
                        .map_err(decode_err)?;
                    state.group = Some(Group::new(
                        start,
                        Some(g.gtid),
                        g.is_standalone(),
                        i64::from(header.timestamp()) * 1000,
                    ));
                }
                events::ROTATE => {
                    // mysql_common strips a checksum only once it has seen a format
                    // description; the first (artificial) rotate comes before it.
                    let body: Vec<u8> = event
                        .data()
                        .iter()
                        .copied()
                        .chain(event.checksum().into_iter().flatten())
                        .collect();
                    let r =
                        Rotate::decode(&events::header_bytes(&event), &body).map_err(decode_err)?;
                    state.file = r.file;
                    if state.group.is_none() {
                        state.resume = Offset::at(state.file.clone(), r.position);
                    }
                }
                events::ANNOTATE_ROWS => {
                    state.annotate = Some(
                        AnnotateRows::decode(event.data())
                            .map_err(decode_err)?
                            .query,
                    );
                }
                events::BINLOG_CHECKPOINT => {
                    let c = BinlogCheckpoint::decode(event.data()).map_err(decode_err)?;
                    debug!(checkpoint = %c.file, "Binlog checkpoint.");
                }
                events::GTID_LIST => {
                    let l = GtidList::decode(event.data()).map_err(decode_err)?;
                    let gtids: Vec<String> = l.gtids.iter().map(ToString::to_string).collect();
                    debug!(gtids = %gtids.join(","), "GTID list.");
                }
                code if events::is_undecodable_rows_event(code) => {
                    return Err(Error::UnsupportedEvent {
                        name: events::event_type_name(code).to_owned(),
                        type_code: code,
                        file: state.file.clone(),
                        pos: start,
                        hint: "set log_bin_compress=OFF and binlog_row_value_options='' on the server; \
                               events already written this way cannot be captured"
                            .into(),
                    });
                }
                _ => match event.read_data() {
                    Ok(Some(EventData::TableMapEvent(t))) => {
                        // Every transaction repeats its tables' maps; only a changed one (DDL,
                        // a reused table id) invalidates what was built from the last.
                        let same = state
                            .tables
                            .get(&t.table_id())
                            .and_then(|i| i.as_ref())
                            .is_some_and(|i| i.tme.as_ref() == Some(&t));
                        if !same {
                            state.tables.remove(&t.table_id());
                        }
                    }
                    Ok(Some(EventData::RowsEvent(rows))) => {
                        let records = self.rows_to_records(stream, &event, &rows, state, start)?;
                        for record in records {
                            if self.send(sink, tx, state, record).await? {
                                return Ok(Outcome::StoppedAfterLimit);
                            }
                        }
                    }
                    Ok(Some(EventData::XidEvent(_))) => {
                        if self.end_group(sink, tx, state, log_pos).await? {
                            return Ok(Outcome::StoppedAfterLimit);
                        }
                    }
                    Ok(Some(EventData::QueryEvent(q))) => {
                        let query = q.query();
                        if query != "BEGIN"
                            && query != "COMMIT"
                            && self.config.include_schema_changes
                            && let Some(target) = ddl::target(&query, &q.schema())
                            && self.captures_ddl(&target)
                        {
                            let source = Source {
                                version: env!("CARGO_PKG_VERSION").to_owned(),
                                connector: envelope::CONNECTOR,
                                name: self.config.topic_prefix.clone(),
                                ts_ms: i64::from(header.timestamp()) * 1000,
                                snapshot: "false",
                                db: target.db.clone(),
                                sequence: None,
                                ts_us: i64::from(header.timestamp()) * 1_000_000,
                                ts_ns: i64::from(header.timestamp()) * 1_000_000_000,
                                table: target.table.clone().unwrap_or_default(),
                                server_id: header.server_id(),
                                gtid: state
                                    .group
                                    .as_ref()
                                    .and_then(|g| g.gtid.map(|g| g.to_string())),
                                file: state.file.clone(),
                                pos: start,
                                row: 0,
                                thread: None,
                                query: None,
                            };
                            if let Some(record) =
                                self.schema_change_record(&target, &query, source)?
                                && self.send(sink, tx, state, record).await?
                            {
                                return Ok(Outcome::StoppedAfterLimit);
                            }
                        }
                        if query == "BEGIN" {
                            if state.group.is_none() {
                                state.group = Some(Group::new(
                                    start,
                                    None,
                                    false,
                                    i64::from(header.timestamp()) * 1000,
                                ));
                            }
                        } else if (query == "COMMIT"
                            || state.group.as_ref().is_none_or(|g| g.standalone))
                            && self.end_group(sink, tx, state, log_pos).await?
                        {
                            return Ok(Outcome::StoppedAfterLimit);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        return Err(Error::Decode {
                            event: events::event_type_name(code).to_owned(),
                            file: state.file.clone(),
                            pos: start,
                            reason: error.to_string(),
                        });
                    }
                },
            }
            if let Some(end) = end
                && state.group.is_none()
                && log_pos > 0
                && Offset::at(state.file.clone(), log_pos).reached(&end.file, end.pos)
            {
                return Ok(Outcome::ReachedEnd);
            }
        }
        Err(Error::Mysql(mysql_async::Error::Io(
            mysql_async::IoError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server ended the binlog stream",
            )),
        )))
    }

    /// Ends the group in progress: its END record (transaction metadata), then its offset.
    /// True when the record limit was hit.
    async fn end_group(
        &self,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        state: &mut State,
        log_pos: u64,
    ) -> Result<bool> {
        if self.config.provide_transaction_metadata
            && let Some(g) = state.group.as_ref()
            && g.begun
        {
            let status = TransactionStatus {
                status: "END",
                id: g.txn_id(&state.file),
                event_count: Some(g.txn_total),
                // In Debezium's order: that of the Java HashMap it counts them in.
                data_collections: Some(envelope::hash_map_order(
                    g.txn_tables
                        .iter()
                        .map(|(t, n)| DataCollection {
                            data_collection: t.clone(),
                            event_count: *n,
                        })
                        .collect(),
                    |d| d.data_collection.as_str(),
                )),
                ts_ms: g.ts_ms,
            };
            if let Some(record) = self.txn_record(&status, &state.file, g.start_pos)?
                && self.send(sink, tx, state, record).await?
            {
                return Ok(true);
            }
        }
        if let Some(Some(gtid)) = state.group.take().map(|g| g.gtid)
            && let Some(gtids) = state.gtids.as_mut()
        {
            gtids.insert(gtid.domain_id, gtid);
        }
        state.pending_skip = 0;
        state.annotate = None;
        state.resume = Offset::at(state.file.clone(), log_pos);
        state.resume.gtid_position = state.gtid_position();
        let pending = Pending {
            delivery: None,
            offset: state.resume.clone(),
        };
        tx.send(pending).await.map_err(|_| self.tracker_gone())?;
        Ok(false)
    }

    /// A record of the transaction metadata topic, keyed by the transaction id (through the
    /// transforms; `None` when one dropped it).
    fn txn_record(
        &self,
        status: &TransactionStatus,
        file: &str,
        pos: u64,
    ) -> Result<Option<Record>> {
        self.own_record(
            format!(
                "{}.{}",
                self.config.topic_prefix, self.config.transaction_topic
            ),
            &serde_json::json!({ "id": status.id }),
            status,
            (file, pos),
        )
    }

    fn tracker_gone(&self) -> Error {
        Error::Offsets {
            path: self.config.offsets_file.display().to_string(),
            reason: "the acknowledgement tracker stopped (a delivery failed)".into(),
        }
    }

    /// Sends one record unless it was delivered before a restart; true when the limit is hit.
    async fn send(
        &self,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        state: &mut State,
        record: Record,
    ) -> Result<bool> {
        let Some(group) = state.group.as_mut() else {
            return Ok(false);
        };
        group.records += 1;
        if group.records <= state.pending_skip {
            return Ok(false);
        }
        let offset = Offset {
            file: state.file.clone(),
            pos: group.start_pos,
            skip: group.records,
            gtid: group.gtid.map(|g| g.to_string()),
            gtid_position: state.gtid_position(),
            snapshot: None,
        };
        let delivery = sink.send(&record).await?;
        tx.send(Pending { delivery, offset })
            .await
            .map_err(|_| self.tracker_gone())?;
        state.sent += 1;
        Ok(self.stop_after.is_some_and(|n| state.sent >= n))
    }

    fn table_info(
        &self,
        stream: &BinlogStream,
        table_id: u64,
        state: &mut State,
    ) -> Result<Option<Arc<TableInfo>>> {
        if let Some(info) = state.tables.get(&table_id) {
            return Ok(info.clone());
        }
        let Some(tme) = stream.get_tme(table_id) else {
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
            Some(Arc::new(TableInfo {
                tme: Some(tme.clone().into_owned()),
                schemas: EnvelopeSchemas::new(
                    &self.config.topic_prefix,
                    &schema,
                    &self.config.handling,
                ),
                topic: self.config.topic_for(&db, &table),
                key_columns: schema.key_columns(),
                schema,
            }))
        } else {
            None
        };
        state.tables.insert(table_id, info.clone());
        Ok(info)
    }

    fn rows_to_records(
        &self,
        stream: &BinlogStream,
        event: &Event,
        rows: &RowsEventData<'_>,
        state: &mut State,
        start: u64,
    ) -> Result<Vec<Record>> {
        let info = match self.table_info(stream, rows.table_id(), state) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Vec::new()),
            Err(error) => {
                let (table, topic) = stream.get_tme(rows.table_id()).map_or_else(
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
        let Some(tme) = stream.get_tme(rows.table_id()) else {
            return Ok(Vec::new());
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
        let table_name = format!("{}.{}", info.schema.db, info.schema.table);
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
                version: env!("CARGO_PKG_VERSION").to_owned(),
                connector: envelope::CONNECTOR,
                name: self.config.topic_prefix.clone(),
                ts_ms: ts * 1000,
                snapshot: "false",
                db: info.schema.db.clone(),
                sequence: None,
                ts_us: ts * 1_000_000,
                ts_ns: ts * 1_000_000_000,
                table: info.schema.table.clone(),
                server_id: event.header().server_id(),
                gtid: state
                    .group
                    .as_ref()
                    .and_then(|g| g.gtid.map(|g| g.to_string())),
                file: state.file.clone(),
                pos: start,
                row: 0,
                thread: None,
                query: if self.config.include_query {
                    state.annotate.clone()
                } else {
                    None
                },
            },
            now_us: now.timestamp_micros(),
        };
        let mut out = Vec::new();
        for (index, row) in rows.rows(tme).enumerate() {
            let failure = |error| Failure {
                table: &table_name,
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
                None => g.txn_tables.push((table_name, t.data_collection_order)),
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
}

impl State {
    fn gtid_position(&self) -> Option<String> {
        self.gtids.as_ref().map(format_gtid_position)
    }

    /// After a dropped connection: resume at the start of the group in progress and skip the
    /// records of it already sent.
    fn prepare_reconnect(&mut self) {
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

/// A dropped connection (I/O error, closed connection, or the server killing the dump
/// thread), worth a reconnect; anything else is not.
fn is_connection_loss(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        // ER_CONNECTION_KILLED, ER_SERVER_SHUTDOWN.
        mysql_async::Error::Server(e) => matches!(e.code, 1927 | 1053),
        _ => false,
    }
}

/// 100 ms doubled per failure, at most 30 s.
fn keel_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_millis((100u64 << exp).min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(keel_backoff(1), Duration::from_millis(100));
        assert_eq!(keel_backoff(3), Duration::from_millis(400));
        assert_eq!(keel_backoff(40), Duration::from_secs(30));
    }
}
