//! The load generator: the legacy application placing orders, each in one transaction (the
//! order row, then its item rows), at a steady rate, with later address changes and customer
//! cancellations. The content of order *n* depends only on the seed and *n*.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::prelude::Queryable;
use tokio::sync::mpsc;

use super::rng::Rng;
use super::schema::{CUSTOMERS, Product, cents_text};

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Orders to place.
    pub orders: u64,
    /// Orders per second.
    pub rate: f64,
    /// The seed of every random choice.
    pub seed: u64,
}

/// An order whose COMMIT returned.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    /// `orders.id`.
    pub order_id: i64,
    /// When COMMIT returned.
    pub at: Instant,
}

/// What the load did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// Orders committed.
    pub orders: u64,
    /// Order address changes.
    pub address_changes: u64,
    /// Customer cancellations.
    pub cancellations: u64,
    /// Customer address changes.
    pub customer_updates: u64,
    /// Seconds the load took.
    pub seconds: f64,
}

#[derive(Default)]
struct Counters {
    orders: AtomicU64,
    address_changes: AtomicU64,
    cancellations: AtomicU64,
    customer_updates: AtomicU64,
    /// Follow-ups scheduled and not yet done.
    pending: AtomicU64,
}

/// Runs `plan` against `pool`, reporting each committed order on `committed`.
pub async fn run(
    pool: &mysql_async::Pool,
    products: &[Product],
    plan: &LoadPlan,
    committed: Option<mpsc::UnboundedSender<Committed>>,
    progress: bool,
) -> mysql_async::Result<LoadReport> {
    let started = Instant::now();
    let bar = if progress {
        ProgressBar::new(plan.orders)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("load   [{bar:30}] {pos}/{len} orders {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let counters = Arc::new(Counters::default());
    let next = Arc::new(AtomicU64::new(0));
    // An order is four round trips and a durable commit, a few milliseconds each on a busy
    // machine: one connection per 20 orders a second keeps the rate with room to spare.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let workers = ((plan.rate / 20.0).ceil() as usize).clamp(1, 64);
    let interval = Duration::from_secs_f64(1.0 / plan.rate.max(0.001));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (pool, products, plan) = (pool.clone(), products.to_vec(), plan.clone());
        let (next, counters, committed, bar) = (
            Arc::clone(&next),
            Arc::clone(&counters),
            committed.clone(),
            bar.clone(),
        );
        tasks.spawn(async move {
            let mut conn = pool.get_conn().await?;
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= plan.orders {
                    return Ok::<_, mysql_async::Error>(());
                }
                // The n-th order is due at n × interval from the start.
                #[allow(clippy::cast_possible_truncation)]
                let due = started + interval.saturating_mul(n as u32);
                tokio::time::sleep_until(due.into()).await;
                let mut rng = Rng::new(plan.seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
                let order_id = place(&mut conn, &products, &mut rng).await?;
                counters.orders.fetch_add(1, Ordering::Relaxed);
                if let Some(tx) = &committed {
                    let _ = tx.send(Committed {
                        order_id,
                        at: Instant::now(),
                    });
                }
                bar.inc(1);
                follow_ups(&pool, &counters, order_id, &mut rng);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| mysql_async::Error::Other(Box::new(e)))??;
    }
    // Let the follow-ups (at most a second behind) land.
    while counters.pending.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    Ok(LoadReport {
        orders: counters.orders.load(Ordering::Relaxed),
        address_changes: counters.address_changes.load(Ordering::Relaxed),
        cancellations: counters.cancellations.load(Ordering::Relaxed),
        customer_updates: counters.customer_updates.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Places one order: the order row and its items in one transaction.
async fn place(
    conn: &mut mysql_async::Conn,
    products: &[Product],
    rng: &mut Rng,
) -> mysql_async::Result<i64> {
    let customer = rng.range(1, CUSTOMERS);
    let count = rng.range(1, 4);
    let mut lines: Vec<(Product, i64)> = Vec::new();
    while i64::try_from(lines.len()).unwrap_or(i64::MAX) < count {
        let index = usize::try_from(rng.range(0, i64::try_from(products.len()).unwrap_or(1) - 1))
            .unwrap_or(0);
        let product = products[index];
        if lines.iter().all(|(p, _)| p.id != product.id) {
            lines.push((product, rng.range(1, 3)));
        }
    }
    let total: i64 = lines.iter().map(|(p, q)| p.price_cents * q).sum();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    tx.exec_drop(
        "INSERT INTO orders (customer_id, status, shipping_address, total, item_count, created_at, updated_at) \
         VALUES (?, 'placed', ?, ?, ?, NOW(6), NOW(6))",
        (customer, format!("{customer} Main Street"), cents_text(total), count),
    )
    .await?;
    let order_id = i64::try_from(tx.last_insert_id().unwrap_or(0)).unwrap_or(0);
    let values = vec!["(?, ?, ?, ?)"; lines.len()].join(", ");
    let params: Vec<mysql_async::Value> = lines
        .iter()
        .flat_map(|(p, q)| {
            [
                order_id.into(),
                p.id.into(),
                (*q).into(),
                cents_text(p.price_cents).into(),
            ]
        })
        .collect();
    tx.exec_drop(
        format!(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES {values}"
        ),
        params,
    )
    .await?;
    tx.commit().await?;
    Ok(order_id)
}

/// Schedules what the legacy application does later to this order or its customer.
fn follow_ups(pool: &mysql_async::Pool, counters: &Arc<Counters>, order_id: i64, rng: &mut Rng) {
    let later = |delay_ms: i64, sql: String, counter: fn(&Counters) -> &AtomicU64| {
        let (pool, counters) = (pool.clone(), Arc::clone(counters));
        counters.pending.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0))).await;
            let result = async { pool.get_conn().await?.query_drop(sql).await }.await;
            match result {
                Ok(()) => {
                    counter(&counters).fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => tracing::error!(%error, "a legacy follow-up failed"),
            }
            counters.pending.fetch_sub(1, Ordering::SeqCst);
        });
    };
    if rng.chance(0.08) {
        let street = rng.range(1, 999);
        later(
            rng.range(50, 800),
            format!(
                "UPDATE orders SET shipping_address = '{street} Harbour Road', updated_at = NOW(6) WHERE id = {order_id}"
            ),
            |c| &c.address_changes,
        );
    }
    if rng.chance(0.05) {
        later(
            rng.range(20, 1000),
            format!(
                "UPDATE orders SET status = 'cancelled', updated_at = NOW(6) WHERE id = {order_id}"
            ),
            |c| &c.cancellations,
        );
    }
    if rng.chance(0.02) {
        let (customer, street) = (rng.range(1, CUSTOMERS), rng.range(1, 999));
        later(
            rng.range(50, 800),
            format!(
                "UPDATE customers SET address = '{street} Station Square' WHERE id = {customer}"
            ),
            |c| &c.customer_updates,
        );
    }
}
