//! The consumer's bookkeeping, as pure logic: which received message may start now (one at a
//! time per lane: a key, a partition, or each message on its own, as the
//! [`ProcessingOrder`] says), and which offset of each assigned partition may be committed.
//!
//! Partitions are known from their assignment to their revocation; each assignment is a new
//! generation, so a handler that finishes after its partition was revoked (and maybe assigned
//! again) changes nothing about the new generation's commits. Its lane stays busy until it
//! finishes, so even then a key never runs twice at once in this consumer.

use std::collections::{HashMap, VecDeque};

use super::super::ProcessingOrder;
use super::offsets::PartitionOffsets;

/// A topic and partition.
pub(crate) type Tp = (String, i32);

/// What runs one message at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Lane {
    tp: Tp,
    key: LaneKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LaneKey {
    /// The whole partition (`ProcessingOrder::Partition`).
    Partition,
    /// The record key; `None` for records without one (`ProcessingOrder::Key`).
    Key(Option<Vec<u8>>),
    /// The message alone (`ProcessingOrder::Unordered`).
    Offset(i64),
}

/// A message that may run: hand it back to [`Book::finish`] when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ticket {
    lane: Lane,
    generation: u64,
    offset: i64,
}

/// What became of a received message.
#[derive(Debug)]
pub(crate) enum Admitted<M> {
    /// Start handling it now.
    Start(Ticket, M),
    /// It waits behind an earlier message of its lane; [`Book::finish`] hands it out.
    Queued,
    /// Its partition is not assigned (any more): drop it; it stays uncommitted.
    NotAssigned(M),
    /// An earlier message of its lane was given up on ([`Ending::Abandoned`]): it must not
    /// overtake it, so drop it; it stays uncommitted.
    Blocked(M),
}

/// How a started message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Handled or dead-lettered: its offset may be committed.
    Done,
    /// Given up on (shutdown, a dead letter that could not be published): its offset and every
    /// later one of its partition stay uncommitted, and its lane takes nothing more.
    Abandoned,
}

struct Partition {
    generation: u64,
    offsets: PartitionOffsets,
}

struct LaneState<M> {
    /// Whether one of its messages is running.
    running: bool,
    /// Received messages waiting behind it, in offset order.
    queue: VecDeque<(Ticket, M)>,
}

/// The consumer's bookkeeping of partitions, lanes and unfinished messages.
pub(crate) struct Book<M> {
    order: ProcessingOrder,
    partitions: HashMap<Tp, Partition>,
    /// A lane is here while a message of it runs or waits, or after it was abandoned.
    lanes: HashMap<Lane, LaneState<M>>,
    /// Received and not finished: running, or queued in a lane.
    in_flight: usize,
    generations: u64,
}

impl<M> Book<M> {
    /// An empty book for `order`.
    pub(crate) fn new(order: ProcessingOrder) -> Self {
        Self {
            order,
            partitions: HashMap::new(),
            lanes: HashMap::new(),
            in_flight: 0,
            generations: 0,
        }
    }

    /// Received messages not finished yet, running or waiting in their lane.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The partitions were assigned to this consumer (a partition already assigned is kept as
    /// it is).
    pub(crate) fn assign(&mut self, tps: impl IntoIterator<Item = Tp>) {
        for tp in tps {
            if !self.partitions.contains_key(&tp) {
                self.generations += 1;
                let partition = Partition {
                    generation: self.generations,
                    offsets: PartitionOffsets::default(),
                };
                self.partitions.insert(tp, partition);
            }
        }
    }

    /// The partitions were revoked: returns the offset to commit for each (its finished
    /// prefix), forgets them, and drops their messages still waiting in lanes. Their running
    /// messages finish as they will, committing nothing.
    pub(crate) fn revoke(&mut self, tps: impl IntoIterator<Item = Tp>) -> Vec<(Tp, i64)> {
        let mut commits = Vec::new();
        for tp in tps {
            let Some(partition) = self.partitions.remove(&tp) else {
                continue;
            };
            if let Some(offset) = partition.offsets.committable() {
                commits.push((tp.clone(), offset));
            }
            let mut dropped = 0;
            self.lanes.retain(|lane, state| {
                if lane.tp != tp {
                    return true;
                }
                dropped += state.queue.len();
                state.queue.clear();
                state.running
            });
            self.in_flight -= dropped;
        }
        commits
    }

    /// A message was received: it starts now, waits in its lane, or is dropped.
    pub(crate) fn receive(
        &mut self,
        tp: Tp,
        offset: i64,
        key: Option<Vec<u8>>,
        message: M,
    ) -> Admitted<M> {
        let Some(partition) = self.partitions.get_mut(&tp) else {
            return Admitted::NotAssigned(message);
        };
        let key = match self.order {
            ProcessingOrder::Key => LaneKey::Key(key),
            ProcessingOrder::Partition => LaneKey::Partition,
            ProcessingOrder::Unordered => LaneKey::Offset(offset),
        };
        let lane = Lane { tp, key };
        let ticket = Ticket {
            lane,
            generation: partition.generation,
            offset,
        };
        match self.lanes.get_mut(&ticket.lane) {
            Some(state) if !state.running => {
                partition.offsets.received(offset);
                Admitted::Blocked(message)
            }
            Some(state) => {
                partition.offsets.received(offset);
                state.queue.push_back((ticket, message));
                self.in_flight += 1;
                Admitted::Queued
            }
            None => {
                partition.offsets.received(offset);
                let state = LaneState {
                    running: true,
                    queue: VecDeque::new(),
                };
                self.lanes.insert(ticket.lane.clone(), state);
                self.in_flight += 1;
                Admitted::Start(ticket, message)
            }
        }
    }

    /// A started message ended: returns the next message of its lane, to start now.
    pub(crate) fn finish(&mut self, ticket: &Ticket, ending: Ending) -> Option<(Ticket, M)> {
        self.in_flight -= 1;
        let current = self
            .partitions
            .get_mut(&ticket.lane.tp)
            .filter(|p| p.generation == ticket.generation);
        let current = match current {
            Some(partition) => {
                if ending == Ending::Done {
                    partition.offsets.finished(ticket.offset);
                }
                true
            }
            None => false,
        };
        let state = self.lanes.get_mut(&ticket.lane)?;
        if ending == Ending::Abandoned && current {
            self.in_flight -= state.queue.len();
            state.queue.clear();
            state.running = false;
            return None;
        }
        // Done, or given up on after its partition was revoked (the new generation starts
        // again from the committed offset): the lane goes on.
        let next = state.queue.pop_front();
        if next.is_none() {
            self.lanes.remove(&ticket.lane);
        }
        next
    }

    /// The offsets to commit now: each partition whose finished prefix moved since the last
    /// call.
    pub(crate) fn advanced(&mut self) -> Vec<(Tp, i64)> {
        self.partitions
            .iter_mut()
            .filter_map(|(tp, p)| p.offsets.advance().map(|offset| (tp.clone(), offset)))
            .collect()
    }

    /// Every assigned partition's offset to commit (its finished prefix), moved or not.
    pub(crate) fn committable(&self) -> Vec<(Tp, i64)> {
        self.partitions
            .iter()
            .filter_map(|(tp, p)| p.offsets.committable().map(|offset| (tp.clone(), offset)))
            .collect()
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
