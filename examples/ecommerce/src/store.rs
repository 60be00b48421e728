//! The event store (PostgreSQL, one database per namespace), the repositories with their
//! snapshot policies, and the roles' batched writers ([`batched`]).

pub mod batched;

use keel::repository::Executed;
use keel::store::PostgresStore;
use keel::{Aggregate, CommandError, Metadata, Repository, SnapshotPolicy};

pub use batched::{Batched, Done, Refused};

use crate::domain::inventory::Inventory;
use crate::domain::order::Order;
use crate::domain::payment::Payment;
use crate::settings::Settings;

/// Orders snapshot every 4 events (an order has 4 to 9), so `replay` starts from one.
pub const ORDER_SNAPSHOTS: SnapshotPolicy = SnapshotPolicy::every(4);
/// Inventory streams are long (every reservation of a product): snapshot often.
pub const INVENTORY_SNAPSHOTS: SnapshotPolicy = SnapshotPolicy::every(50);

/// Connections per role to the event store. An append holds one for its whole transaction,
/// so a busy role with too few waits for them (`PostgresStore::connect` opens at most 16).
const CONNECTIONS: u32 = 32;

/// Connects to this namespace's event store (running its migrations).
pub async fn connect(settings: &Settings) -> crate::Result<PostgresStore> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&settings.event_store_url())
        .await?;
    Ok(PostgresStore::from_pool(pool).await?)
}

/// The order repository (for reads; the roles write through [`Batched`]).
pub fn orders(store: PostgresStore) -> Repository<Order, PostgresStore> {
    Repository::new(store).with_snapshots(ORDER_SNAPSHOTS)
}

/// The inventory repository.
pub fn inventory(store: PostgresStore) -> Repository<Inventory, PostgresStore> {
    Repository::new(store).with_snapshots(INVENTORY_SNAPSHOTS)
}

/// The payment repository.
pub fn payments(store: PostgresStore) -> Repository<Payment, PostgresStore> {
    Repository::new(store)
}

/// Executes `command` through the repository, deciding it again at once after a conflict
/// (another writer appended to the stream meanwhile), up to `retries` times; the last outcome
/// is returned as it is. For code that handles one command at a time (the choreography's
/// reactions); concurrent handlers write through [`Batched`].
pub async fn execute_retrying<A: Aggregate>(
    repo: &Repository<A, PostgresStore>,
    stream: &str,
    command: A::Command,
    metadata: &Metadata,
    retries: u32,
) -> Result<Executed<A>, CommandError<A::Error>>
where
    A::Command: Clone,
{
    let mut attempts = 0;
    loop {
        match repo
            .execute(stream, command.clone(), metadata.clone())
            .await
        {
            Err(CommandError::Conflict { .. }) if attempts < retries => attempts += 1,
            outcome => return outcome,
        }
    }
}
