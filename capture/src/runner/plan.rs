//! What a run does at start, from the stored offset and `snapshot.mode`.

use tracing::{info, warn};

use super::{Capture, RunSummary};
use crate::config::SnapshotMode;
use crate::offsets::{Offset, OffsetStore};
use crate::schema::history::SchemaHistory;
use crate::schema::tables::SchemaEvent;
use crate::snapshot::cut;
use crate::{Result, binlog, preflight};

/// How a run starts.
pub(super) enum Start {
    /// Nothing to do; what the run did.
    Finished(RunSummary),
    /// Snapshot and/or stream.
    Run(Box<Prepared>),
}

/// What a run that has work does.
pub(super) struct Prepared {
    /// The offset store, for the tracker.
    pub(super) store: OffsetStore,
    /// The schema history, recovered up to where the run resumes.
    pub(super) history: SchemaHistory,
    /// The initial snapshot to take, fresh or resumed from stored progress.
    pub(super) snapshot: Option<Option<Offset>>,
    /// Where streaming starts and, with `exit_at_end`, the binlog end (`None`: nothing to
    /// stream, already at the end).
    pub(super) stream_from: Option<(Offset, Option<Offset>)>,
    /// A schema snapshot just taken: its events, where it was taken and the offset to send
    /// them with.
    pub(super) schema_events: Option<(Vec<SchemaEvent>, Offset, Offset)>,
    /// An offset to store before anything else (a first run's start, so the next run resumes
    /// there even when this one sends nothing).
    pub(super) mark: Option<Offset>,
}

/// What a run does, decided from the stored offset and `snapshot.mode`.
enum Plan {
    /// Nothing (`initial_only` after a complete snapshot); the stored offset.
    Done(Offset),
    /// The initial snapshot, fresh or resumed from stored progress.
    Snapshot(Option<Offset>),
    /// Stream the binlog from this offset.
    Stream(Offset),
}

impl Capture {
    /// Checks the server, opens the offset store and the schema history, and decides what
    /// this run does. Streaming without any schema history first takes a schema snapshot.
    pub(super) async fn prepare(&self) -> Result<Start> {
        let mut conn = mysql_async::Conn::new(self.config.mysql_opts()).await?;
        preflight::run(&mut conn).await?;
        let store = OffsetStore::open(&self.config).await?;
        let stored = store.load().await?;
        let fresh = stored.is_none();
        let mut history = SchemaHistory::open(&self.config).await?;
        let mut start_events = None;
        let mut mark = None;
        let (snapshot, stream_from) = match self.plan(&mut conn, stored).await? {
            Plan::Done(offset) => {
                conn.disconnect().await?;
                return Ok(Start::Finished(RunSummary {
                    offset: Some(offset),
                    ..RunSummary::default()
                }));
            }
            Plan::Snapshot(resume) => {
                if let Some(o) = &resume {
                    history.recover(&o.file, o.pos).await?;
                }
                (Some(resume), None)
            }
            Plan::Stream(mut offset) => {
                history.recover(&offset.file, offset.pos).await?;
                let mut snap = None;
                if history.is_empty() {
                    let (at, schema) = cut::schema_now(&mut conn, &self.config.filter).await?;
                    if fresh && self.start_at.is_none() {
                        // A first start streams from where the schema was read.
                        offset = at.clone();
                    } else if !offset.reached(&at.file, at.pos) {
                        warn!(from = %format!("{}:{}", offset.file, offset.pos),
                              schema_at = %format!("{}:{}", at.file, at.pos),
                              "No schema history: the schema is read now, after the start \
                               position; DDL in between is taken as already applied (rows still \
                               decode by their table maps).");
                    }
                    let events = history.record_snapshot(schema, &at).await?;
                    snap = Some((events, at));
                }
                let (offset, end) = self.stream_start(&mut conn, offset).await?;
                if fresh {
                    mark = Some(offset.clone());
                }
                start_events = snap.map(|(events, at)| (events, at, offset.clone()));
                match &end {
                    Some(end) if offset.reached(&end.file, end.pos) => {
                        info!(file = %end.file, pos = end.pos, "Already at the binlog end.");
                        (None, None)
                    }
                    _ => (None, Some((offset, end))),
                }
            }
        };
        conn.disconnect().await?;
        Ok(Start::Run(Box::new(Prepared {
            store,
            history,
            snapshot,
            stream_from,
            schema_events: start_events,
            mark,
        })))
    }

    /// What this run does, from the stored offset and `snapshot.mode`.
    async fn plan(&self, conn: &mut mysql_async::Conn, stored: Option<Offset>) -> Result<Plan> {
        let mode = self.config.snapshot_mode;
        Ok(match stored {
            Some(o) if o.snapshot.is_some() => {
                if mode.takes_snapshot() {
                    Plan::Snapshot(Some(o))
                } else {
                    warn!(file = %o.file, pos = o.pos,
                          "The offsets hold an unfinished snapshot but snapshot.mode=no_data: \
                           streaming from its cut; tables not read yet are not captured.");
                    Plan::Stream(Offset {
                        snapshot: None,
                        ..o
                    })
                }
            }
            Some(o) if mode == SnapshotMode::InitialOnly => {
                info!(file = %o.file, pos = o.pos,
                      "The snapshot is complete; snapshot.mode=initial_only does not stream.");
                Plan::Done(o)
            }
            Some(o)
                if mode == SnapshotMode::WhenNeeded && !binlog::has_file(conn, &o.file).await? =>
            {
                warn!(file = %o.file, pos = o.pos,
                      "The stored binlog position is no longer on the server (purged); \
                       snapshot.mode=when_needed takes a new snapshot.");
                Plan::Snapshot(None)
            }
            Some(o) => Plan::Stream(o),
            None if mode.takes_snapshot() => Plan::Snapshot(None),
            None => Plan::Stream(match &self.start_at {
                Some(o) => o.clone(),
                None => binlog::end_position(conn).await?,
            }),
        })
    }

    /// Completes `offset` with its GTID position and reads the binlog end for `exit_at_end`.
    pub(super) async fn stream_start(
        &self,
        conn: &mut mysql_async::Conn,
        mut offset: Offset,
    ) -> Result<(Offset, Option<Offset>)> {
        if offset.gtid_position.is_none() {
            offset.gtid_position = binlog::gtid_position_at(conn, &offset.file, offset.pos).await?;
        }
        let end = if self.exit_at_end {
            Some(binlog::end_position(conn).await?)
        } else {
            None
        };
        Ok((offset, end))
    }
}
