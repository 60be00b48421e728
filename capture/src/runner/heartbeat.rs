//! Heartbeats (`heartbeat.interval.ms` > 0): a record on
//! `<topic.heartbeat.prefix>.<topic.prefix>` every interval between event groups, carrying the
//! position reached, so the stored offset follows the binlog even while only tables that are
//! not captured change (as Debezium's heartbeats do).

use serde_json::json;

use super::emit::Emitter;
use super::{Capture, State};
use crate::Result;

impl Capture {
    /// Sends a heartbeat unless a group is in progress (its offset would not be a resume
    /// point); true when the record limit was hit.
    pub(super) async fn heartbeat(&self, out: &Emitter, state: &mut State) -> Result<bool> {
        if state.group.is_some() {
            return Ok(false);
        }
        let record = self.own_record(
            self.config.heartbeat_topic(),
            &json!({ "serverName": self.config.topic_prefix }),
            &json!({ "ts_ms": chrono::Utc::now().timestamp_millis() }),
            (&state.resume.file, state.resume.pos),
        )?;
        // `None` when a transform dropped the heartbeat.
        match record {
            Some(record) => {
                out.emit(&record, state.resume.clone()).await?;
                state.sent += 1;
            }
            None => out.mark(state.resume.clone()).await?,
        }
        Ok(self.stop_after.is_some_and(|n| state.sent >= n))
    }
}
