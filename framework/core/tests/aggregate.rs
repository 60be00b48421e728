//! An aggregate declared the way users declare one (`#[derive(Event)]`), tested with the
//! shipped `AggregateFixture` and run through a `Repository`.

use keel_core::store::MemoryStore;
use keel_core::testing::AggregateFixture;
use keel_core::{Aggregate, CommandError, DomainEvent, Metadata, Repository, SnapshotPolicy};
use keel_macros::Event;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
#[event(crate = "keel_core")]
enum OrderEvent {
    #[event(name = "order.placed", version = 2)]
    Placed {
        customer: String,
        total_cents: i64,
    },
    Confirmed,
    Cancelled {
        reason: String,
    },
}

#[derive(Debug)]
enum OrderCommand {
    Place { customer: String, total_cents: i64 },
    Confirm,
    Cancel { reason: String },
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum OrderError {
    #[error("the order was already placed")]
    AlreadyPlaced,
    #[error("the order is {0:?} and cannot change")]
    Closed(Status),
    #[error("no such order")]
    NotPlaced,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Status {
    #[default]
    New,
    Placed,
    Confirmed,
    Cancelled,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    status: Status,
    customer: String,
    total_cents: i64,
}

impl Aggregate for Order {
    const TYPE: &'static str = "order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn handle(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match (self.status, command) {
            (
                Status::New,
                OrderCommand::Place {
                    customer,
                    total_cents,
                },
            ) => Ok(vec![OrderEvent::Placed {
                customer,
                total_cents,
            }]),
            (_, OrderCommand::Place { .. }) => Err(OrderError::AlreadyPlaced),
            (Status::New, _) => Err(OrderError::NotPlaced),
            (Status::Placed, OrderCommand::Confirm) => Ok(vec![OrderEvent::Confirmed]),
            (Status::Placed, OrderCommand::Cancel { reason }) => {
                Ok(vec![OrderEvent::Cancelled { reason }])
            }
            (closed, _) => Err(OrderError::Closed(closed)),
        }
    }

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed {
                customer,
                total_cents,
            } => {
                self.status = Status::Placed;
                self.customer.clone_from(customer);
                self.total_cents = *total_cents;
            }
            OrderEvent::Confirmed => self.status = Status::Confirmed,
            OrderEvent::Cancelled { .. } => self.status = Status::Cancelled,
        }
    }
}

fn placed() -> OrderEvent {
    OrderEvent::Placed {
        customer: "ada".into(),
        total_cents: 4200,
    }
}

#[test]
fn placing_a_new_order_records_it() {
    let state = AggregateFixture::<Order>::new()
        .given_no_previous_events()
        .when(OrderCommand::Place {
            customer: "ada".into(),
            total_cents: 4200,
        })
        .then_expect_events(vec![placed()]);
    assert_eq!(state.status, Status::Placed);
}

#[test]
fn a_placed_order_cannot_be_placed_again() {
    AggregateFixture::<Order>::new()
        .given(vec![placed()])
        .when(OrderCommand::Place {
            customer: "bob".into(),
            total_cents: 1,
        })
        .then_expect_error(OrderError::AlreadyPlaced);
}

#[test]
fn a_placed_order_can_be_cancelled_with_a_reason() {
    AggregateFixture::<Order>::new()
        .given(vec![placed()])
        .when(OrderCommand::Cancel {
            reason: "changed mind".into(),
        })
        .then_expect_events(vec![OrderEvent::Cancelled {
            reason: "changed mind".into(),
        }]);
}

#[test]
fn a_cancelled_order_cannot_be_confirmed() {
    AggregateFixture::<Order>::new()
        .given(vec![
            placed(),
            OrderEvent::Cancelled {
                reason: "changed mind".into(),
            },
        ])
        .when(OrderCommand::Confirm)
        .then_expect_error_message("the order is Cancelled and cannot change");
}

#[test]
fn derived_events_carry_their_names_and_versions() {
    assert_eq!(placed().event_type(), "order.placed");
    assert_eq!(placed().event_version(), 2);
    assert_eq!(OrderEvent::Confirmed.event_type(), "Confirmed");
    assert_eq!(
        OrderEvent::event_types(),
        [("order.placed", 2), ("Confirmed", 1), ("Cancelled", 1)]
    );
}

#[tokio::test]
async fn the_repository_keeps_rules_apart_from_conflicts() {
    let repo =
        Repository::<Order, _>::new(MemoryStore::new()).with_snapshots(SnapshotPolicy::every(2));
    let place = || OrderCommand::Place {
        customer: "ada".into(),
        total_cents: 4200,
    };
    repo.execute("order-1", place(), Metadata::default())
        .await
        .expect("place");
    let rejected = repo
        .execute("order-1", place(), Metadata::default())
        .await
        .expect_err("twice");
    assert!(
        matches!(rejected, CommandError::Rejected(OrderError::AlreadyPlaced)),
        "{rejected:?}"
    );
    let done = repo
        .execute("order-1", OrderCommand::Confirm, Metadata::default())
        .await
        .expect("confirm");
    assert_eq!((done.state.status, done.version), (Status::Confirmed, 2));
    let loaded = repo.load("order-1").await.expect("load");
    assert_eq!(
        loaded.snapshot_version,
        Some(2),
        "snapshotted at the second event"
    );
    assert_eq!(loaded.state, done.state);
}
