//! What a run does at start, from the stored offset and `snapshot.mode`.

use tracing::{info, warn};

use super::Capture;
use crate::Result;
use crate::binlog;
use crate::config::SnapshotMode;
use crate::offsets::Offset;

/// What a run does, decided from the stored offset and `snapshot.mode`.
pub(super) enum Plan {
    /// Nothing (`initial_only` after a complete snapshot); the stored offset.
    Done(Offset),
    /// The initial snapshot, fresh or resumed from stored progress.
    Snapshot(Option<Offset>),
    /// Stream the binlog from this offset.
    Stream(Offset),
}

impl Capture {
    /// What this run does, from the stored offset and `snapshot.mode`.
    pub(super) async fn plan(
        &self,
        conn: &mut mysql_async::Conn,
        stored: Option<Offset>,
    ) -> Result<Plan> {
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
