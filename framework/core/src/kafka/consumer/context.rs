//! The consumer's librdkafka context: keeps the [`Book`] in step with the group's assignment,
//! commits a revoked partition's finished prefix before it goes to another member, applies the
//! assignment itself, and logs failed asynchronous commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaResult, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::book::{Book, Tp};

/// The context of a [`KafkaConsumer`](super::KafkaConsumer)'s librdkafka consumer.
pub(crate) struct Rebalancing {
    book: Mutex<Book<OwnedMessage>>,
    /// Whether the group uses incremental (cooperative) rebalancing, known from the
    /// configuration: asking librdkafka (`rd_kafka_rebalance_protocol`) from the rebalance
    /// callback can hang forever while the consumer closes (librdkafka issue 4041).
    cooperative: bool,
    /// Set once the consumer made its final commit: the revocation that closing triggers
    /// commits nothing more.
    closing: AtomicBool,
}

impl Rebalancing {
    pub(crate) fn new(book: Book<OwnedMessage>, cooperative: bool) -> Self {
        Self {
            book: Mutex::new(book),
            cooperative,
            closing: AtomicBool::new(false),
        }
    }

    /// The final commit is made: the consumer is about to close.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// The bookkeeping, locked for the time of a few map operations.
    pub(crate) fn book(&self) -> MutexGuard<'_, Book<OwnedMessage>> {
        // The book is whole between statements: a poisoned lock can be used as is.
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<Tp> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

/// A list of offsets to commit.
pub(crate) fn offsets(commits: &[(Tp, i64)]) -> KafkaResult<TopicPartitionList> {
    let mut list = TopicPartitionList::with_capacity(commits.len());
    for ((topic, partition), offset) in commits {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
    }
    Ok(list)
}

impl ClientContext for Rebalancing {}

impl Rebalancing {
    /// Keeps the book in step before librdkafka applies the change. A revoked partition's
    /// finished prefix is committed synchronously here, while this member still owns it; its
    /// messages still running finish without committing anything, and the new owner starts at
    /// that prefix (so it may see them again: handlers are idempotent).
    fn book_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let assigned = partitions(list);
                tracing::info!(partitions = ?assigned, "partitions assigned");
                self.book().assign(assigned);
            }
            Rebalance::Revoke(list) => {
                let revoked = partitions(list);
                let commits = self.book().revoke(revoked.iter().cloned());
                tracing::info!(partitions = ?revoked, commits = ?commits, "partitions revoked");
                if commits.is_empty() || self.closing.load(Ordering::SeqCst) {
                    return;
                }
                let committed =
                    offsets(&commits).and_then(|list| consumer.commit(&list, CommitMode::Sync));
                if let Err(error) = committed {
                    tracing::warn!(%error, "committing revoked partitions failed; their new owner may see handled messages again");
                }
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
        }
    }
}

impl ConsumerContext for Rebalancing {
    /// Runs inside the consumer's poll: books the change, then applies it as librdkafka's
    /// default handler does (assign, or unassign on revocation and on errors; incrementally
    /// for a cooperative group).
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        let rebalance = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => Rebalance::Assign(list),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(list),
            other => Rebalance::Error(rdkafka::error::KafkaError::Rebalance(
                RDKafkaErrorCode::from(other),
            )),
        };
        self.book_rebalance(consumer, &rebalance);
        let applied = match (&rebalance, self.cooperative) {
            (Rebalance::Assign(list), true) => consumer.incremental_assign(list),
            (Rebalance::Assign(list), false) => consumer.assign(list),
            (_, true) => consumer.incremental_unassign(list),
            (_, false) => consumer.unassign(),
        };
        if let Err(error) = applied {
            tracing::warn!(%error, "applying a rebalance failed");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            tracing::warn!(%error, offsets = ?partitions(offsets), "commit failed; committed again with the next progress or when the consumer stops");
        }
    }
}
