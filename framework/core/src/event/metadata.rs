//! What travels with an event besides its payload.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of Keel's deterministic event ids (UUID v5).
const KEEL_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_656c_2d65_7665_6e74_2d69_6473_0001);

/// A deterministic event id: the same key always gives the same id, so re-delivering the event
/// that carries it never appends twice.
///
/// ```
/// let a = keel_core::event::deterministic_id("orders:0-1-42:row:0");
/// assert_eq!(a, keel_core::event::deterministic_id("orders:0-1-42:row:0"));
/// assert_ne!(a, keel_core::event::deterministic_id("orders:0-1-42:row:1"));
/// ```
pub fn deterministic_id(key: &str) -> Uuid {
    Uuid::new_v5(&KEEL_NAMESPACE, key.as_bytes())
}

/// Metadata of an event: correlation, causation, trace context and, for events derived from
/// change data capture, where in the source they came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Ties together every event of one business process (e.g. one order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The id of the event or command that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The W3C `traceparent` of the span that recorded the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The W3C `tracestate`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// The source position of a CDC-derived event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePosition>,
    /// Anything else the application attaches.
    #[serde(default, flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where a CDC-derived event came from in the source database's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// The logical name of the source (Debezium's `topic.prefix`).
    pub name: String,
    /// The transaction's GTID, when the source has GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// The binlog file.
    pub file: String,
    /// The event's position in the binlog file.
    pub pos: u64,
    /// The row's index within its binlog event.
    pub row: u32,
    /// For a row read by an initial snapshot (Debezium `op` `r`), which carries the snapshot's
    /// position like every other row of it: the table and the row's primary key, e.g.
    /// `shop.customers:{"id":7}`. Part of the event ids, so snapshot rows do not collide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_key: Option<String>,
}

impl SourcePosition {
    /// The deterministic id of the `index`-th event derived from this row: the GTID when there
    /// is one (stable across binlog rotation and failover), else file and position; for a
    /// snapshot row, also its table and key.
    ///
    /// ```
    /// use keel_core::event::SourcePosition;
    /// let p = SourcePosition { name: "orders".into(), gtid: Some("0-1-42".into()),
    ///                          file: "binlog.000001".into(), pos: 1234, row: 0, snapshot_key: None };
    /// assert_eq!(p.event_id(0), p.clone().event_id(0));
    /// assert_ne!(p.event_id(0), p.event_id(1));
    /// let snapshot = |key: &str| SourcePosition { snapshot_key: Some(key.into()), ..p.clone() };
    /// assert_ne!(snapshot("shop.customers:{\"id\":1}").event_id(0), snapshot("shop.customers:{\"id\":2}").event_id(0));
    /// ```
    pub fn event_id(&self, index: u32) -> Uuid {
        let at = match &self.gtid {
            Some(gtid) => format!("gtid:{gtid}:{}", self.pos),
            None => format!("file:{}:{}", self.file, self.pos),
        };
        let snapshot = self
            .snapshot_key
            .as_ref()
            .map(|key| format!("|snapshot:{key}"))
            .unwrap_or_default();
        deterministic_id(&format!(
            "{}|{at}|row:{}{snapshot}|event:{index}",
            self.name, self.row
        ))
    }
}
