//! Heartbeats (`heartbeat.interval.ms` > 0): a record on
//! `<topic.heartbeat.prefix>.<topic.prefix>` every interval between event groups, carrying the
//! position reached, so the stored offset follows the binlog even while only tables that are
//! not captured change (as Debezium's heartbeats do).

use serde_json::json;
use tokio::sync::mpsc;

use super::{Capture, State};
use crate::Result;
use crate::sink::{KafkaSink, Pending};

impl Capture {
    /// Sends a heartbeat unless a group is in progress (its offset would not be a resume
    /// point); true when the record limit was hit.
    pub(super) async fn heartbeat(
        &self,
        sink: &KafkaSink,
        tx: &mpsc::Sender<Pending>,
        state: &mut State,
    ) -> Result<bool> {
        if state.group.is_some() {
            return Ok(false);
        }
        let record = self.own_record(
            self.config.heartbeat_topic(),
            &json!({ "serverName": self.config.topic_prefix }),
            &json!({ "ts_ms": chrono::Utc::now().timestamp_millis() }),
            (&state.resume.file, state.resume.pos),
        )?;
        // `None` when a transform dropped the heartbeat; the null sink sends nothing either.
        let counted = record.is_some();
        let delivery = match record {
            Some(record) => sink.send(&record).await?,
            None => None,
        };
        tx.send(Pending {
            delivery,
            offset: state.resume.clone(),
        })
        .await
        .map_err(|_| self.tracker_gone())?;
        if counted {
            state.sent += 1;
        }
        Ok(self.stop_after.is_some_and(|n| state.sent >= n))
    }
}
