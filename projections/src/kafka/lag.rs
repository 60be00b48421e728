//! How far a Kafka-fed projection is behind: its consumer group's committed offsets against the
//! partitions' high watermarks, and the age of the first record not yet committed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::records::kafka_error;
use crate::Result;
use crate::runner::Lag;

/// Where a partition stands: the group's next offset to read and the partition's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Behind {
    /// The first offset the group has not committed past.
    pub(crate) next: i64,
    /// The high watermark: the offset the next record will get.
    pub(crate) end: i64,
}

/// Where the group goes on in a partition: its committed offset; without one, where
/// `auto.offset.reset` sends a new member (earliest: the low watermark; latest: the end); never
/// below the low watermark (records removed by retention cannot be read).
pub(crate) fn next_offset(committed: Offset, low: i64, high: i64, reset_latest: bool) -> i64 {
    match committed {
        Offset::Offset(n) => n.clamp(low, high.max(low)),
        _ if reset_latest => high,
        _ => low,
    }
}

/// The lag of the group `probe` is configured with (its `group.id`) on `topics`: events behind
/// is the sum over partitions of the end minus the next offset to read; ms behind the age of
/// the oldest first unread record (its timestamp), 0 when every partition is read to its end.
pub(crate) fn measure(
    probe: &BaseConsumer,
    topics: &[String],
    reset_latest: bool,
    timeout: Duration,
) -> Result<Lag> {
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        let metadata = probe
            .fetch_metadata(Some(topic), timeout)
            .map_err(kafka_error)?;
        for t in metadata.topics() {
            for p in t.partitions() {
                partitions.add_partition(t.name(), p.id());
            }
        }
    }
    let committed = probe
        .committed_offsets(partitions.clone(), timeout)
        .map_err(kafka_error)?;
    let mut behind: HashMap<(String, i32), Behind> = HashMap::new();
    for element in partitions.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = probe
            .fetch_watermarks(topic, partition, timeout)
            .map_err(kafka_error)?;
        let offset = committed
            .find_partition(topic, partition)
            .map_or(Offset::Invalid, |e| e.offset());
        let next = next_offset(offset, low, high, reset_latest);
        behind.insert((topic.to_owned(), partition), Behind { next, end: high });
    }
    let events_behind = behind
        .values()
        .map(|b| u64::try_from(b.end - b.next).unwrap_or(0))
        .sum();
    let oldest = oldest_unread(probe, &behind, timeout)?;
    let ms_behind = oldest.map_or(0, |timestamp| {
        let age = chrono::Utc::now().timestamp_millis() - timestamp;
        u64::try_from(age).unwrap_or(0)
    });
    Ok(Lag {
        events_behind,
        ms_behind,
    })
}

/// The smallest timestamp (ms) of the first unread record of each partition that has one.
fn oldest_unread(
    probe: &BaseConsumer,
    behind: &HashMap<(String, i32), Behind>,
    timeout: Duration,
) -> Result<Option<i64>> {
    let mut assignment = TopicPartitionList::new();
    let mut waiting: HashMap<(String, i32), i64> = HashMap::new();
    for ((topic, partition), b) in behind.iter().filter(|(_, b)| b.next < b.end) {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(b.next))
            .map_err(kafka_error)?;
        waiting.insert((topic.clone(), *partition), b.next);
    }
    if waiting.is_empty() {
        return Ok(None);
    }
    probe.assign(&assignment).map_err(kafka_error)?;
    let deadline = Instant::now() + timeout;
    let mut oldest: Option<i64> = None;
    let outcome = loop {
        if waiting.is_empty() {
            break Ok(oldest);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Records not fetched in time (removed by retention meanwhile, say) do not count.
            break Ok(oldest);
        }
        match probe.poll(left.min(Duration::from_millis(100))) {
            None => {}
            Some(Err(error)) => break Err(kafka_error(error)),
            Some(Ok(message)) => {
                let slot = (message.topic().to_owned(), message.partition());
                if waiting.remove(&slot).is_some()
                    && let Some(ms) = message.timestamp().to_millis()
                {
                    oldest = Some(oldest.map_or(ms, |o| o.min(ms)));
                }
            }
        }
    };
    probe.unassign().map_err(kafka_error)?;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_offset_is_the_commit_or_where_a_new_member_starts() {
        assert_eq!(next_offset(Offset::Offset(7), 0, 10, false), 7);
        assert_eq!(next_offset(Offset::Invalid, 3, 10, false), 3);
        assert_eq!(next_offset(Offset::Invalid, 3, 10, true), 10);
        // Records removed by retention are not behind; a commit past the end is caught up.
        assert_eq!(next_offset(Offset::Offset(1), 3, 10, false), 3);
        assert_eq!(next_offset(Offset::Offset(12), 3, 10, false), 10);
    }
}
