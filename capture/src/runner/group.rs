//! Sending records within an event group, and ending the group: its END record (transaction
//! metadata) and the offset after it.

use super::Capture;
use super::emit::Emitter;
use super::state::State;
use crate::Result;
use crate::envelope::{self, DataCollection, TransactionStatus};
use crate::offsets::Offset;
use crate::sink::{PendingOffset, Record};

impl Capture {
    /// Sends one record unless it was delivered before a restart; true when the limit is hit.
    pub(super) async fn send(
        &self,
        out: &Emitter,
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
        let offset = PendingOffset::InGroup(group.offset.clone(), group.records);
        out.emit(&record, offset).await?;
        state.sent += 1;
        Ok(self.stop_after.is_some_and(|n| state.sent >= n))
    }

    /// Ends the group in progress: its END record (transaction metadata), then its offset.
    /// True when the record limit was hit.
    pub(super) async fn end_group(
        &self,
        out: &Emitter,
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
                && self.send(out, state, record).await?
            {
                return Ok(true);
            }
        }
        if let Some(Some(gtid)) = state.group.take().map(|g| g.gtid) {
            state.completed(gtid);
        }
        state.pending_skip = 0;
        state.annotate = None;
        state.resume = Offset::at(state.file.clone(), log_pos);
        state.resume.gtid_position = state.gtid_position();
        out.mark(state.resume.clone()).await?;
        Ok(false)
    }

    /// A record of the transaction metadata topic, keyed by the transaction id (through the
    /// transforms; `None` when one dropped it).
    pub(super) fn txn_record(
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
}
