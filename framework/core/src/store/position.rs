//! The global position of an event.

use serde::{Deserialize, Serialize};

/// An event's place in the global order, compared as (`commit`, `seq`).
///
/// `seq` is unique per event and increases with every append. `commit` orders transactions: on
/// PostgreSQL it is the appending transaction's id (`xid8`), so that the global order is the
/// order in which transactions can become visible and a transaction that commits late is never
/// skipped; on SQLite and in memory, where writers are serialized, it is 0.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position {
    /// The transaction order (PostgreSQL `xid8`; 0 elsewhere).
    pub commit: u64,
    /// The event's sequence number.
    pub seq: u64,
}

impl Position {
    /// Before the first event.
    pub const START: Position = Position { commit: 0, seq: 0 };

    /// A position from its parts.
    pub const fn new(commit: u64, seq: u64) -> Self {
        Self { commit, seq }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.commit, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn orders_by_commit_then_seq() {
        assert!(Position::new(5, 100) < Position::new(6, 1));
        assert!(Position::new(6, 1) < Position::new(6, 2));
        assert_eq!(Position::START, Position::default());
        assert_eq!(Position::new(7, 3).to_string(), "7/3");
    }
}
