//! The offsets of one assigned partition: which received messages are not finished yet, and so
//! which offset may be committed (pure logic).

use std::collections::BTreeSet;

/// One partition's received and unfinished offsets since it was assigned.
#[derive(Debug, Default)]
pub(super) struct PartitionOffsets {
    /// Received, not yet handled or dead-lettered (also the ones given up on at shutdown).
    pending: BTreeSet<i64>,
    /// One past the highest offset received.
    next: Option<i64>,
    /// The offset last handed out for a commit.
    committed: Option<i64>,
}

impl PartitionOffsets {
    /// `offset` was received.
    pub(super) fn received(&mut self, offset: i64) {
        self.pending.insert(offset);
        let after = offset.saturating_add(1);
        self.next = Some(self.next.map_or(after, |next| next.max(after)));
    }

    /// `offset` was handled or dead-lettered.
    pub(super) fn finished(&mut self, offset: i64) {
        self.pending.remove(&offset);
    }

    /// The offset to commit: the first one received and not finished (every received offset
    /// before it is finished), or one past the last received when all are. Offsets missing
    /// from the partition (compaction, transaction markers) never hold it back: only received
    /// ones count. `None` before the first message.
    pub(super) fn committable(&self) -> Option<i64> {
        self.pending.first().copied().or(self.next)
    }

    /// The committable offset if it moved since the last call (which records it as committed).
    pub(super) fn advance(&mut self) -> Option<i64> {
        let committable = self.committable()?;
        if self.committed == Some(committable) {
            return None;
        }
        self.committed = Some(committable);
        Some(committable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_committable_before_the_first_message() {
        let mut offsets = PartitionOffsets::default();
        assert_eq!(offsets.committable(), None);
        assert_eq!(offsets.advance(), None);
    }

    #[test]
    fn the_committable_offset_stops_at_the_first_unfinished_message() {
        let mut offsets = PartitionOffsets::default();
        for offset in 10..=13 {
            offsets.received(offset);
        }
        assert_eq!(offsets.committable(), Some(10), "nothing finished yet");
        offsets.finished(11);
        offsets.finished(13);
        assert_eq!(offsets.committable(), Some(10), "10 holds the others back");
        offsets.finished(10);
        assert_eq!(offsets.committable(), Some(12), "10 and 11 done, 12 not");
        offsets.finished(12);
        assert_eq!(
            offsets.committable(),
            Some(14),
            "all done: one past the last"
        );
    }

    #[test]
    fn gaps_in_the_partition_do_not_hold_commits_back() {
        let mut offsets = PartitionOffsets::default();
        offsets.received(5);
        offsets.received(9);
        offsets.finished(9);
        assert_eq!(offsets.committable(), Some(5));
        offsets.finished(5);
        assert_eq!(offsets.committable(), Some(10));
    }

    #[test]
    fn each_advance_is_handed_out_once() {
        let mut offsets = PartitionOffsets::default();
        offsets.received(0);
        assert_eq!(offsets.advance(), Some(0));
        assert_eq!(offsets.advance(), None, "no progress, no second commit");
        offsets.finished(0);
        assert_eq!(offsets.advance(), Some(1));
        offsets.received(1);
        assert_eq!(offsets.advance(), None, "1 is received but not finished");
    }
}
