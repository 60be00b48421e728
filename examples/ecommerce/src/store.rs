//! The event store (PostgreSQL, one database per namespace) and the repositories with their
//! snapshot policies.

use keel::repository::Executed;
use keel::store::PostgresStore;
use keel::{Aggregate, CommandError, Metadata, Repository, SnapshotPolicy};

use crate::domain::inventory::Inventory;
use crate::domain::order::Order;
use crate::domain::payment::Payment;
use crate::settings::Settings;

/// Orders snapshot every this many events (an order has 4 to 9), so `replay` starts from one.
pub const ORDER_SNAPSHOT_EVERY: u64 = 4;
/// Inventory streams are long (every reservation of a product): snapshot often.
pub const INVENTORY_SNAPSHOT_EVERY: u64 = 50;

/// Connects to this namespace's event store (running its migrations).
pub async fn connect(settings: &Settings) -> crate::Result<PostgresStore> {
    Ok(PostgresStore::connect(&settings.event_store_url()).await?)
}

/// The order repository.
pub fn orders(store: PostgresStore) -> Repository<Order, PostgresStore> {
    Repository::new(store).with_snapshots(SnapshotPolicy::every(ORDER_SNAPSHOT_EVERY))
}

/// The inventory repository.
pub fn inventory(store: PostgresStore) -> Repository<Inventory, PostgresStore> {
    Repository::new(store).with_snapshots(SnapshotPolicy::every(INVENTORY_SNAPSHOT_EVERY))
}

/// The payment repository.
pub fn payments(store: PostgresStore) -> Repository<Payment, PostgresStore> {
    Repository::new(store)
}

/// Executes `command`, deciding it again at once after a conflict (another writer appended to
/// the stream meanwhile), up to `retries` times; the last outcome is returned as it is.
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
