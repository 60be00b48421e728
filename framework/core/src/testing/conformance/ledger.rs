//! The aggregate the conformance checks execute commands on.

use serde::{Deserialize, Serialize};

use crate::event::DecodeError;
use crate::{Aggregate, DomainEvent};

/// A ledger: deposits add to a balance.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// The sum of deposits.
    pub balance: i64,
}

impl Ledger {
    /// The snapshot schema version.
    pub const SNAPSHOT: u32 = 1;
}

/// The ledger's commands.
#[derive(Debug, Clone)]
pub enum LedgerCommand {
    /// Deposit a positive amount.
    Deposit(i64),
}

/// The ledger's events. `Deposited` is at schema version 3 (v1 had `amt`, v2 `amount`, v3 adds
/// `currency`), so the upcasting check has a chain to walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// Money came in.
    Deposited {
        /// How much.
        amount: i64,
        /// In which currency.
        currency: String,
    },
}

impl LedgerEvent {
    /// The current schema version of `Deposited`.
    pub const VERSION: u32 = 3;
}

/// A deposit that is not positive.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("a deposit must be positive, got {0}")]
pub struct NotPositive(pub i64);

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> &'static str {
        "Deposited"
    }
    fn event_version(&self) -> u32 {
        Self::VERSION
    }
    fn event_types() -> &'static [(&'static str, u32)] {
        &[("Deposited", LedgerEvent::VERSION)]
    }
    fn to_payload(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self).map(crate::__private::untag)
    }
    fn from_payload(event_type: &str, payload: serde_json::Value) -> Result<Self, DecodeError> {
        Self::from_payload_ref(event_type, &payload)
    }
    fn from_payload_ref(
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<Self, DecodeError> {
        match event_type {
            "Deposited" => Ok(crate::__private::from_tagged("Deposited", false, payload)?),
            _ => Err(DecodeError::UnknownType),
        }
    }
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "ledger";
    const SNAPSHOT_VERSION: u32 = Ledger::SNAPSHOT;
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = NotPositive;

    fn handle(&self, command: LedgerCommand) -> Result<Vec<LedgerEvent>, NotPositive> {
        match command {
            LedgerCommand::Deposit(amount) if amount > 0 => Ok(vec![LedgerEvent::Deposited {
                amount,
                currency: "EUR".into(),
            }]),
            LedgerCommand::Deposit(amount) => Err(NotPositive(amount)),
        }
    }

    fn apply(&mut self, event: &LedgerEvent) {
        match event {
            LedgerEvent::Deposited { amount, .. } => self.balance += amount,
        }
    }
}
