//! The choreographed saga's record of an order's reservation, owned by the inventory
//! participant: reserved (every line held on its product's stock), rejected, or released.

use keel::{Aggregate, Event};
use serde::{Deserialize, Serialize};

use super::order::Line;

/// What happens to an order's reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub enum ReservationEvent {
    /// Every line is held.
    InventoryReserved {
        /// The lines held.
        lines: Vec<Line>,
    },
    /// A line could not be held; nothing is.
    InventoryRejected {
        /// Why.
        reason: String,
    },
    /// The held lines were returned.
    InventoryReleased,
}

/// Where a reservation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Not decided.
    #[default]
    None,
    /// Held.
    Reserved,
    /// Refused.
    Rejected,
    /// Returned.
    Released,
}

/// An order's reservation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reservation {
    /// Where it is.
    pub status: ReservationStatus,
}

/// What the inventory reactor records once the product streams were changed.
#[derive(Debug, Clone)]
pub enum ReservationCommand {
    /// Every line was held.
    Reserved(Vec<Line>),
    /// A line could not be held (the others were returned).
    Rejected(String),
    /// The lines were returned.
    Released,
}

/// Reservations record what happened; they never refuse.
#[derive(Debug)]
pub enum Never {}

impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

impl Aggregate for Reservation {
    const TYPE: &'static str = "reservation";
    type Command = ReservationCommand;
    type Event = ReservationEvent;
    type Error = Never;

    fn handle(&self, command: ReservationCommand) -> Result<Vec<ReservationEvent>, Never> {
        use ReservationStatus as S;
        Ok(match (command, self.status) {
            (ReservationCommand::Reserved(lines), S::None) => {
                vec![ReservationEvent::InventoryReserved { lines }]
            }
            (ReservationCommand::Rejected(reason), S::None) => {
                vec![ReservationEvent::InventoryRejected { reason }]
            }
            (ReservationCommand::Released, S::Reserved) => {
                vec![ReservationEvent::InventoryReleased]
            }
            _ => vec![],
        })
    }

    fn apply(&mut self, event: &ReservationEvent) {
        self.status = match event {
            ReservationEvent::InventoryReserved { .. } => ReservationStatus::Reserved,
            ReservationEvent::InventoryRejected { .. } => ReservationStatus::Rejected,
            ReservationEvent::InventoryReleased => ReservationStatus::Released,
        };
    }
}

#[cfg(test)]
mod tests {
    use keel::testing::AggregateFixture;

    use super::*;

    #[test]
    fn a_reservation_is_decided_once() {
        AggregateFixture::<Reservation>::new()
            .given(vec![ReservationEvent::InventoryRejected {
                reason: "none left".into(),
            }])
            .when(ReservationCommand::Reserved(vec![]))
            .then_expect_events(vec![]);
    }

    #[test]
    fn only_a_held_reservation_is_released() {
        AggregateFixture::<Reservation>::new()
            .given(vec![ReservationEvent::InventoryReserved { lines: vec![] }])
            .when(ReservationCommand::Released)
            .then_expect_events(vec![ReservationEvent::InventoryReleased]);
        AggregateFixture::<Reservation>::new()
            .when(ReservationCommand::Released)
            .then_expect_events(vec![]);
    }
}
