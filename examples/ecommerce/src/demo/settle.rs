//! Waiting until the system is quiet: every legacy order has reached a final state in the event
//! store (and every customer cancellation was applied), no saga is in flight, the projections
//! have caught up with the store's head, and the head did not move for a second.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use keel::store::CheckpointStore;
use keel::{EventStore, Position};
use mysql_async::prelude::Queryable;

use super::stores::Stores;
use crate::roles::supervisor::Supervisor;

#[derive(Debug, PartialEq, Eq)]
struct Progress {
    orders: i64,
    finished: i64,
    cancels_pending: i64,
    sagas_active: i64,
    projections_behind: bool,
    head: Position,
}

async fn progress(stores: &Stores) -> crate::Result<Progress> {
    let mut conn = stores.mariadb.get_conn().await?;
    let orders: i64 = conn
        .query_first("SELECT count(*) FROM orders")
        .await?
        .unwrap_or(0);
    let cancelled: Vec<i64> = conn
        .query("SELECT id FROM orders WHERE status = 'cancelled'")
        .await?;
    drop(conn);
    let pool = stores.events.pool();
    let finished: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT stream_id) FROM keel_events WHERE stream_id LIKE 'order-%' AND event_type IN ('OrderConfirmed', 'OrderCancelled')",
    )
    .fetch_one(pool)
    .await?;
    let streams: Vec<String> = cancelled
        .iter()
        .map(|id| crate::domain::streams::order(*id))
        .collect();
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT stream_id) FROM keel_events WHERE event_type = 'OrderCancelled' AND stream_id = ANY($1)",
    )
    .bind(&streams)
    .fetch_one(pool)
    .await?;
    let sagas_active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM keel_saga_instances WHERE state IN ('running', 'compensating')",
    )
    .fetch_one(pool)
    .await?;
    let head = stores.events.head().await?;
    let mut projections_behind = false;
    let reactors = match stores.settings.saga {
        crate::settings::SagaStyle::Orchestration => vec![],
        crate::settings::SagaStyle::Choreography => crate::roles::choreography::subscriptions(),
    };
    let projections = [
        "projection:orders_read_model",
        "projection:customers_read_model",
    ];
    for name in projections
        .iter()
        .copied()
        .chain(reactors.iter().map(String::as_str))
    {
        projections_behind |= stores
            .events
            .load_checkpoint(name)
            .await?
            .unwrap_or_default()
            != head;
    }
    Ok(Progress {
        orders,
        finished,
        cancels_pending: i64::try_from(streams.len()).unwrap_or(0) - applied,
        sagas_active,
        projections_behind,
        head,
    })
}

/// Waits until quiet, or fails after `timeout` saying what is still moving. A role that
/// exits meanwhile fails it at once, naming its log.
pub async fn wait(
    stores: &Stores,
    supervisor: &mut Supervisor,
    timeout: Duration,
) -> crate::Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("settle {spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let started = Instant::now();
    let mut previous_head = None;
    loop {
        if let Some((role, status)) = supervisor.exited().into_iter().next() {
            bar.finish_and_clear();
            return Err(format!(
                "{role} exited ({status}); see {}",
                supervisor.log(role).display()
            )
            .into());
        }
        let p = progress(stores).await?;
        bar.set_message(format!(
            "{}/{} orders final, {} cancellations pending, {} sagas active{}",
            p.finished,
            p.orders,
            p.cancels_pending,
            p.sagas_active,
            if p.projections_behind {
                ", projections catching up"
            } else {
                ""
            }
        ));
        bar.tick();
        let settled = p.finished == p.orders
            && p.cancels_pending == 0
            && p.sagas_active == 0
            && !p.projections_behind;
        if settled && previous_head == Some(p.head) {
            bar.finish_and_clear();
            return Ok(());
        }
        if started.elapsed() > timeout {
            bar.finish_and_clear();
            return Err(format!("not quiet after {}s: {p:?}", timeout.as_secs()).into());
        }
        previous_head = Some(p.head);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

/// Waits until the starting customers are readable in Redis and every product is stocked in
/// the event store: capture, translate and project are then all running, so the load's
/// latencies measure the pipeline, not its start.
pub async fn primed(
    stores: &Stores,
    supervisor: &mut Supervisor,
    timeout: Duration,
) -> crate::Result<()> {
    let names = stores.settings.names();
    let keys: Vec<String> = (1..=crate::legacy::schema::CUSTOMERS)
        .map(|id| format!("{}{id}", names.customer_key_prefix))
        .collect();
    let started = Instant::now();
    let mut conn = stores.redis.clone();
    loop {
        if let Some((role, status)) = supervisor.exited().into_iter().next() {
            return Err(format!(
                "{role} exited ({status}); see {}",
                supervisor.log(role).display()
            )
            .into());
        }
        let customers: i64 = redis::cmd("EXISTS")
            .arg(&keys)
            .query_async(&mut conn)
            .await?;
        let stocked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM keel_streams WHERE stream_id LIKE 'inventory-%'",
        )
        .fetch_one(stores.events.pool())
        .await?;
        if customers == crate::legacy::schema::CUSTOMERS
            && stocked == crate::legacy::schema::PRODUCTS
        {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "the pipeline did not start within {}s: {customers} of {} customers in Redis, {stocked} of {} products stocked",
                timeout.as_secs(), crate::legacy::schema::CUSTOMERS, crate::legacy::schema::PRODUCTS
            ).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
