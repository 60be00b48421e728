//! The capture loop: binlog events in, Debezium records out to Kafka, offsets stored behind
//! the acknowledgements.
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | [`Capture`]: its options and a run from start to stop |
//! | `plan.rs` | what a run does at start (snapshot, stream, nothing) |
//! | `snapshot.rs` | the initial snapshot |
//! | `stream.rs` | the binlog connection, reconnects with backoff |
//! | `consume.rs` | one connection's events, in order |
//! | `state.rs` | what the loop keeps between events |
//! | `rows.rs` | rows events to records |
//! | `records.rs` | one row change's records (envelope, key, tombstone) |
//! | `group.rs` | sending within a transaction, ending it (offset, END record) |
//! | `output.rs` | transforms and the JSON converter |
//! | `emit.rs` | records to the sink, offsets to the acknowledgement tracker in batches |
//! | `schema_change.rs` | DDL through the schema history, schema change events |
//! | `heartbeat.rs`, `dead_letter.rs` | heartbeats, dead letters |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::change_stream::ChangeStream;
use crate::config::{ConnectorConfig, SnapshotMode};
use crate::offsets::{Offset, ResumeBy, format_gtid_position, parse_gtid_position};
use crate::schema::history::SchemaHistory;
use crate::sink::{self, ConsumerSink, KafkaSink, Sink};
use crate::{Error, Result};

mod consume;
mod dead_letter;
mod emit;
mod group;
mod heartbeat;
mod output;
mod plan;
mod records;
mod rows;
mod schema_change;
mod snapshot;
mod state;
mod stream;

use emit::Emitter;
use plan::Start;
use snapshot::SnapshotEnd;
use state::State;

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
    /// Set by [`Capture::into_stream`]: true (or the sender gone) asks the run to stop.
    shutdown: Option<watch::Receiver<bool>>,
    /// `source.version` and `source.name` (`topic.prefix`), shared by every record.
    version: Arc<str>,
    prefix: Arc<str>,
}

/// Where a run's records go.
enum Target {
    /// Kafka, or nowhere with [`Capture::null_sink`].
    Kafka,
    /// A [`ChangeStream`]'s consumer, acknowledging through the receiver.
    Consumer(ConsumerSink, watch::Receiver<u64>),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Records handed to Kafka (or the change stream) in this run (tombstones included).
    pub records_sent: u64,
    /// Records Kafka (or the change stream's consumer) acknowledged in this run.
    pub records_acknowledged: u64,
    /// The offset this run stored last (`None` when it stored none).
    pub offset: Option<Offset>,
}

impl Capture {
    /// A capture for `config`: resumes from the offsets file, or starts at the binlog end.
    pub fn new(config: ConnectorConfig) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").into(),
            prefix: config.topic_prefix.as_str().into(),
            config,
            start_at: None,
            exit_at_end: false,
            stop_after: None,
            resume_by: ResumeBy::Position,
            show_progress: true,
            null_sink: false,
            shutdown: None,
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
        self.run_to(Target::Kafka).await
    }

    /// Runs in the background and hands every record to the returned [`ChangeStream`]
    /// instead of Kafka: the same values, in the same order, with offsets stored only up to
    /// what the consumer acknowledged. Must be called within a Tokio runtime.
    pub fn into_stream(mut self) -> ChangeStream {
        let (events_tx, events) = mpsc::channel(self.config.max_queue_size);
        let (acks, acks_rx) = watch::channel(0);
        let (shutdown, shutdown_rx) = watch::channel(false);
        self.shutdown = Some(shutdown_rx);
        let task =
            tokio::spawn(self.run_to(Target::Consumer(ConsumerSink::new(events_tx), acks_rx)));
        ChangeStream::new(events, acks, shutdown, task)
    }

    async fn run_to(self, target: Target) -> Result<RunSummary> {
        let (consumer, consumer_acks) = match target {
            Target::Kafka => (None, None),
            Target::Consumer(sink, acks) => (Some(sink), Some(acks)),
        };
        // Created first, the producer connects and gets its producer id while MariaDB is
        // checked and the schema history read.
        let kafka = match (&consumer, self.null_sink) {
            (None, false) => Some(KafkaSink::new(&self.config)?),
            _ => None,
        };
        let prepared = match self.prepare().await {
            Ok(Start::Finished(summary)) => return Ok(summary),
            Ok(Start::Run(prepared)) => *prepared,
            Err(error) => {
                return match consumer {
                    Some(c) => c.fail(error).await.map(|()| RunSummary::default()),
                    None => Err(error),
                };
            }
        };
        let sink = match (consumer, kafka) {
            (Some(c), _) => Sink::Consumer(c),
            (None, Some(k)) => Sink::Kafka(k),
            (None, None) => Sink::Null,
        };
        let plan::Prepared {
            store,
            history,
            snapshot,
            stream_from,
            schema_events,
            mark,
        } = prepared;
        // Kafka's acknowledgements come in bursts: a wider window than an in-process
        // consumer, which acknowledges what it has read (`max.queue.size`, as documented).
        let (in_flight, board) = match &sink {
            Sink::Kafka(k) => (
                sink::in_flight_limit(self.config.max_queue_size),
                Some(k.board()),
            ),
            _ => (self.config.max_queue_size, None),
        };
        let (tx, rx) = mpsc::channel(emit::channel_capacity(in_flight));
        let acker = tokio::spawn(sink::track_acks(
            rx,
            store,
            Duration::from_millis(self.config.poll_interval_ms),
            board,
            consumer_acks,
        ));
        let out = Emitter::new(sink, tx, self.config.offset_storage.describe());
        let mut sent = 0u64;
        let opts = self.config.mysql_opts();
        let started = async {
            if let Some(offset) = mark {
                out.mark(offset).await?;
            }
            if let Some((events, at, offset)) = &schema_events {
                sent += self
                    .send_snapshot_schema(&out, events, at, offset, true)
                    .await?;
            }
            Ok(())
        }
        .await;
        let result = match started {
            Ok(()) => {
                self.snapshot_then_stream(&opts, &out, history, snapshot, stream_from, &mut sent)
                    .await
            }
            Err(e) => Err(e),
        };
        let result = match result {
            // The consumer closed the stream: a clean stop.
            Err(Error::Closed) => Ok(()),
            other => other,
        };
        // A change stream gets the run's error as its last item, then its end; the tracker
        // then waits for the consumer's last acknowledgements (or its close).
        let (sink, result) = match (out.into_sink().await, result) {
            (Sink::Consumer(c), Err(error)) => (None, c.fail(error).await),
            (Sink::Consumer(_), Ok(())) => (None, Ok(())),
            (sink, result) => (Some(sink), result),
        };
        let acks = acker
            .await
            .map_err(|join| Error::Task(format!("the acknowledgement tracker: {join}")))??;
        result?;
        if let Some(sink) = sink {
            sink.flush(Duration::from_secs(30))?;
        }
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
        out: &Emitter,
        mut history: SchemaHistory,
        snapshot: Option<Option<Offset>>,
        stream_from: Option<(Offset, Option<Offset>)>,
        sent: &mut u64,
    ) -> Result<()> {
        let (offset, end) = match (snapshot, stream_from) {
            (Some(resume), _) => {
                let cut = match self.snapshot(opts, out, &mut history, resume, sent).await? {
                    SnapshotEnd::Stopped => return Ok(()),
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
            shared_file: offset.file.as_str().into(),
            file: offset.file.clone(),
            pending_skip: offset.skip,
            resume: offset,
            group: None,
            sent: *sent,
            tables: HashMap::new(),
            table_maps: HashMap::new(),
            annotate: None,
            gtid_text: gtids.as_ref().map(format_gtid_position),
            gtids,
            history,
        };
        let result = self
            .stream_binlog(opts, out, &mut state, end.as_ref())
            .await;
        *sent = state.sent;
        result.map(|_| ())
    }
}
