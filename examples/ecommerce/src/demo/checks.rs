//! The checks of a run, on what the stores hold ([`Observed`]): pure logic, so each one is
//! unit-tested on hand-made states below.

use std::collections::BTreeMap;

use serde::Serialize;

use super::observed::Observed;
use crate::domain::order::{Line, Status};
use crate::read_models::OrderView;

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What it checks.
    pub name: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// The first few counterexamples, or a summary.
    pub detail: String,
}

/// The figures the report prints.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Figures {
    /// Orders in MariaDB.
    pub mariadb_orders: usize,
    /// Order streams in the event store.
    pub order_streams: usize,
    /// `orders_read_model` documents.
    pub es_documents: usize,
    /// `order:<id>` keys.
    pub redis_keys: usize,
    /// Orders confirmed / cancelled (event store).
    pub confirmed: usize,
    /// Orders cancelled.
    pub cancelled: usize,
    /// Orders the customer cancelled before they were submitted (the cancellation's row change
    /// was translated before the last item's): they have no fulfilment saga.
    pub cancelled_unsubmitted: usize,
    /// Orders the customer cancelled after they were confirmed: their orchestrated fulfilment
    /// saga completed (the cancellation saga undoes them); a choreographed one is compensated.
    pub cancelled_after_confirmation: usize,
    /// Fulfilment sagas completed.
    pub sagas_confirmed: i64,
    /// Fulfilment sagas compensated.
    pub sagas_compensated: i64,
    /// Sagas still running, compensating or parked.
    pub sagas_unfinished: i64,
    /// Payments captured / refunded.
    pub payments_captured: usize,
    /// Payments refunded.
    pub payments_refunded: usize,
    /// Units in stock at the start (MariaDB).
    pub stock_initial: i64,
    /// Units available now (inventory aggregates).
    pub stock_available: i64,
    /// Units held by confirmed orders.
    pub stock_reserved_confirmed: i64,
    /// Orders missing a stream, a document or a key.
    pub lost: usize,
    /// Items recorded twice, or payments captured twice.
    pub duplicated: usize,
}

fn sorted(lines: &[Line]) -> Vec<Line> {
    let mut lines = lines.to_vec();
    lines.sort_by_key(|l| l.item_id);
    lines
}

fn verdict(name: &'static str, failures: &[String], ok: String) -> Check {
    Check {
        name,
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            ok
        } else {
            format!(
                "{} failures, e.g. {}",
                failures.len(),
                failures
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    }
}

/// Checks 1–4 and the figures.
pub fn evaluate(o: &Observed) -> (Vec<Check>, Figures) {
    let mut f = Figures {
        mariadb_orders: o.legacy_orders.len(),
        order_streams: o.orders.len(),
        es_documents: o.es_orders.len(),
        redis_keys: o.redis_orders.len(),
        ..Figures::default()
    };
    let saga = |state: &str| {
        o.sagas
            .get(&("order-fulfilment".to_owned(), state.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    f.sagas_confirmed = saga("completed");
    f.sagas_compensated = saga("compensated");
    f.sagas_unfinished = o
        .sagas
        .iter()
        .filter(|((_, s), _)| matches!(s.as_str(), "running" | "compensating" | "parked"))
        .map(|(_, n)| n)
        .sum();

    // 1. Every legacy order has its stream, document and key, with the same items and total.
    let mut complete = Vec::new();
    for (id, legacy) in &o.legacy_orders {
        let want = sorted(&legacy.lines);
        let Some(order) = o.orders.get(id) else {
            complete.push(format!("order {id}: no stream"));
            f.lost += 1;
            continue;
        };
        let got = sorted(&order.lines);
        if got.len() > want.len() {
            f.duplicated += got.len() - want.len();
        }
        if got != want || order.total_cents != legacy.total_cents {
            complete.push(format!(
                "order {id}: stream has {} items / {} cents, MariaDB {} / {}",
                got.len(),
                order.total_cents,
                want.len(),
                legacy.total_cents
            ));
        }
        let mut doc_missing = false;
        for (store, docs) in [("elasticsearch", &o.es_orders), ("redis", &o.redis_orders)] {
            match docs.get(id) {
                None => {
                    doc_missing = true;
                    complete.push(format!("order {id}: no {store} document"));
                }
                Some(doc)
                    if sorted(&doc.items) != want || doc.total_cents != legacy.total_cents =>
                {
                    complete.push(format!(
                        "order {id}: {store} document has {} items / {} cents",
                        doc.items.len(),
                        doc.total_cents
                    ));
                }
                Some(_) => {}
            }
        }
        f.lost += usize::from(doc_missing);
    }
    let check1 = verdict(
        "every order has its stream, document and key with the same items and total",
        &complete,
        format!(
            "{} orders, {} streams, {} documents, {} keys",
            f.mariadb_orders, f.order_streams, f.es_documents, f.redis_keys
        ),
    );

    // 2. Every order ends confirmed or cancelled, and the read models say so.
    let mut ended = Vec::new();
    for (id, legacy) in &o.legacy_orders {
        let Some(order) = o.orders.get(id) else {
            continue;
        };
        match order.status {
            Status::Confirmed => f.confirmed += 1,
            Status::Cancelled => {
                f.cancelled += 1;
                f.cancelled_unsubmitted += usize::from(!order.submitted);
                f.cancelled_after_confirmation += usize::from(order.confirmed);
            }
            other => ended.push(format!("order {id} is {other:?}")),
        }
        if !order.submitted && order.status == Status::Cancelled && !legacy.cancelled {
            ended.push(format!(
                "order {id} was cancelled before it was submitted, but not by the customer"
            ));
        }
        if legacy.cancelled && order.status != Status::Cancelled {
            ended.push(format!(
                "order {id} was cancelled by the customer but is {:?}",
                order.status
            ));
        }
        for (store, docs) in [("elasticsearch", &o.es_orders), ("redis", &o.redis_orders)] {
            if let Some(OrderView { status, .. }) = docs.get(id)
                && status != order.status.name()
            {
                ended.push(format!(
                    "order {id}: {store} says {status}, the stream {}",
                    order.status.name()
                ));
            }
        }
    }
    let check2 = verdict(
        "every order ends confirmed or cancelled",
        &ended,
        format!("{} confirmed, {} cancelled", f.confirmed, f.cancelled),
    );

    // 3. Inventory is conserved: initial = available + reserved by confirmed orders.
    let mut held: BTreeMap<i64, i64> = BTreeMap::new();
    for (id, order) in &o.orders {
        if order.status == Status::Confirmed && o.legacy_orders.contains_key(id) {
            for line in &order.lines {
                *held.entry(line.product_id).or_default() += line.quantity;
            }
        }
    }
    let mut stock = Vec::new();
    for (product, initial) in &o.legacy_stock {
        let available = o.inventory.get(product).map_or(0, |i| i.available);
        let confirmed = held.get(product).copied().unwrap_or(0);
        f.stock_initial += initial;
        f.stock_available += available;
        f.stock_reserved_confirmed += confirmed;
        if *initial != available + confirmed {
            stock.push(format!("product {product}: {initial} initial ≠ {available} available + {confirmed} confirmed"));
        }
        if let Some(inventory) = o.inventory.get(product) {
            let reserved: i64 = inventory.reserved.values().sum();
            if reserved != confirmed {
                stock.push(format!(
                    "product {product}: {reserved} held ≠ {confirmed} in confirmed orders"
                ));
            }
        }
    }
    let check3 = verdict(
        "inventory is conserved",
        &stock,
        format!(
            "{} initial = {} available + {} in confirmed orders",
            f.stock_initial, f.stock_available, f.stock_reserved_confirmed
        ),
    );

    // 4. No payment captured twice; every cancelled order that was charged is refunded in full.
    let mut money = Vec::new();
    for (id, (payment, captures)) in &o.payments {
        f.payments_captured += captures;
        f.payments_refunded += usize::from(payment.refunded_cents > 0);
        if *captures > 1 {
            f.duplicated += captures - 1;
            money.push(format!("order {id}: captured {captures} times"));
        }
        match o.orders.get(id).map(|order| order.status) {
            Some(Status::Cancelled) if payment.refunded_cents != payment.captured_cents => {
                money.push(format!(
                    "order {id}: cancelled, {} captured, {} refunded",
                    payment.captured_cents, payment.refunded_cents
                ));
            }
            Some(Status::Confirmed)
                if payment.refunded_cents != 0
                    || payment.captured_cents != o.orders[id].total_cents =>
            {
                money.push(format!(
                    "order {id}: confirmed, {} captured, {} refunded",
                    payment.captured_cents, payment.refunded_cents
                ));
            }
            _ => {}
        }
    }
    for (id, order) in &o.orders {
        if order.status == Status::Confirmed && !o.payments.contains_key(id) {
            money.push(format!("order {id}: confirmed without a payment"));
        }
    }
    let check4 = verdict(
        "no payment captured twice; cancelled orders refunded in full",
        &money,
        format!(
            "{} captured, {} refunded",
            f.payments_captured, f.payments_refunded
        ),
    );

    (vec![check1, check2, check3, check4], f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::observed::LegacyOrder;
    use crate::domain::inventory::Inventory;
    use crate::domain::order::Order;
    use crate::domain::payment::Payment;

    fn line() -> Line {
        Line {
            item_id: 1,
            product_id: 5,
            quantity: 2,
            unit_price_cents: 100,
        }
    }

    fn view(status: &str) -> OrderView {
        OrderView {
            id: "1".into(),
            customer_id: 3,
            items: vec![line()],
            total_cents: 200,
            status: status.into(),
            shipping_address: String::new(),
            cancel_reason: None,
        }
    }

    /// One confirmed order of 2 units of product 5 (stock 10), paid.
    fn healthy() -> Observed {
        let mut o = Observed::default();
        o.legacy_orders.insert(
            1,
            LegacyOrder {
                customer_id: 3,
                cancelled: false,
                total_cents: 200,
                lines: vec![line()],
            },
        );
        o.legacy_stock.insert(5, 10);
        let order = Order {
            placed: true,
            customer_id: 3,
            total_cents: 200,
            item_count: 1,
            lines: vec![line()],
            status: Status::Confirmed,
            ..Order::default()
        };
        o.orders.insert(1, order);
        o.inventory.insert(
            5,
            Inventory {
                stocked: true,
                available: 8,
                reserved: [(1, 2)].into(),
            },
        );
        o.payments.insert(
            1,
            (
                Payment {
                    captured_cents: 200,
                    ..Payment::default()
                },
                1,
            ),
        );
        o.es_orders.insert(1, view("confirmed"));
        o.redis_orders.insert(1, view("confirmed"));
        o
    }

    fn failed(o: &Observed) -> Vec<&'static str> {
        evaluate(o)
            .0
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_healthy_run_passes_every_check() {
        assert_eq!(failed(&healthy()), Vec::<&str>::new());
        let (_, f) = evaluate(&healthy());
        assert_eq!(
            (f.lost, f.duplicated, f.confirmed, f.stock_available),
            (0, 0, 1, 8)
        );
    }

    #[test]
    fn a_missing_key_is_a_lost_order() {
        let mut o = healthy();
        o.redis_orders.clear();
        assert_eq!(
            failed(&o),
            vec!["every order has its stream, document and key with the same items and total"]
        );
        assert_eq!(evaluate(&o).1.lost, 1);
    }

    #[test]
    fn an_item_recorded_twice_is_a_duplicate() {
        let mut o = healthy();
        if let Some(order) = o.orders.get_mut(&1) {
            order.lines.push(line());
        }
        assert!(!evaluate(&o).0[0].passed);
        assert_eq!(evaluate(&o).1.duplicated, 1);
    }

    #[test]
    fn an_order_left_submitted_fails_the_end_state_check() {
        let mut o = healthy();
        if let Some(order) = o.orders.get_mut(&1) {
            order.status = Status::Submitted;
        }
        assert!(failed(&o).contains(&"every order ends confirmed or cancelled"));
    }

    #[test]
    fn stock_held_by_a_cancelled_order_breaks_conservation() {
        let mut o = healthy();
        if let Some(order) = o.orders.get_mut(&1) {
            order.status = Status::Cancelled;
        }
        assert!(failed(&o).contains(&"inventory is conserved"));
    }

    #[test]
    fn a_second_capture_or_a_missing_refund_fails_the_payment_check() {
        let mut o = healthy();
        o.payments.insert(
            1,
            (
                Payment {
                    captured_cents: 200,
                    ..Payment::default()
                },
                2,
            ),
        );
        assert!(
            failed(&o).contains(&"no payment captured twice; cancelled orders refunded in full")
        );
        let mut o = healthy();
        if let Some(order) = o.orders.get_mut(&1) {
            order.status = Status::Cancelled;
        }
        assert!(
            failed(&o).contains(&"no payment captured twice; cancelled orders refunded in full")
        );
    }
}
