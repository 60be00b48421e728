//! The event store (PostgreSQL, one database per namespace) and the repositories with their
//! snapshot policies.

use keel::store::PostgresStore;
use keel::{Repository, SnapshotPolicy};

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
