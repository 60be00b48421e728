//! The sagas, declared with `#[derive(Saga)]`: the data is what every command carries.

use serde::{Deserialize, Serialize};

use crate::domain::order::Line;

/// Fulfils a submitted order: reserve inventory, capture payment, confirm. A failure or a
/// timeout after the retries compensates in reverse: refund, release, cancel the order.
#[derive(Debug, Clone, Serialize, Deserialize, keel::Saga)]
#[allow(clippy::duplicated_attributes)]
#[saga(name = "order-fulfilment")]
#[saga(step(
    name = "open",
    participant = "orders",
    action = "StartFulfilment",
    compensation = "CancelOrder"
))]
#[saga(step(
    name = "reserve",
    participant = "inventory",
    action = "ReserveInventory",
    compensation = "ReleaseInventory",
    timeout_ms = 10000,
    attempts = 6,
    backoff_ms = 500
))]
#[saga(step(
    name = "pay",
    participant = "payment",
    action = "CapturePayment",
    compensation = "RefundPayment",
    timeout_ms = 10000,
    attempts = 6,
    backoff_ms = 500
))]
#[saga(step(
    name = "confirm",
    participant = "orders",
    action = "ConfirmOrder",
    timeout_ms = 10000,
    attempts = 6,
    backoff_ms = 500
))]
pub struct OrderFulfilment {
    /// The legacy order id.
    pub order_id: i64,
    /// Who ordered.
    pub customer_id: i64,
    /// What to reserve.
    pub lines: Vec<Line>,
    /// What to charge, in cents.
    pub total_cents: i64,
}

/// Undoes an order the customer cancelled: release its stock and refund its payment (both do
/// nothing when there is nothing to undo, so it is safe whatever the fulfilment saga did).
#[derive(Debug, Clone, Serialize, Deserialize, keel::Saga)]
#[allow(clippy::duplicated_attributes)]
#[saga(name = "order-cancellation")]
#[saga(step(
    name = "release",
    participant = "inventory",
    action = "ReleaseInventory",
    timeout_ms = 10000,
    attempts = 6,
    backoff_ms = 500
))]
#[saga(step(
    name = "refund",
    participant = "payment",
    action = "RefundPayment",
    timeout_ms = 10000,
    attempts = 6,
    backoff_ms = 500
))]
pub struct OrderCancellation {
    /// The legacy order id.
    pub order_id: i64,
    /// Who ordered.
    pub customer_id: i64,
    /// What may have been reserved.
    pub lines: Vec<Line>,
    /// What may have been charged, in cents.
    pub total_cents: i64,
}

/// The saga's id: the order's stream id.
pub fn saga_id(order_id: i64) -> String {
    crate::domain::streams::order(order_id)
}

#[cfg(test)]
mod tests {
    use keel::sagas::testing::{FixtureInput as I, SagaFixture};
    use keel::sagas::{Saga, SagaState};
    use serde_json::json;

    use super::OrderFulfilment;

    fn data() -> serde_json::Value {
        json!({"order_id": 1, "customer_id": 2, "lines": [], "total_cents": 500})
    }

    #[tokio::test]
    async fn a_declined_payment_releases_the_stock_then_cancels_the_order() {
        let mut f = SagaFixture::new(OrderFulfilment::definition());
        f.given(vec![
            I::start("order-1", data()),
            I::success("open"),
            I::success("reserve"),
        ])
        .await;
        f.when(I::failure("pay", "declined"))
            .await
            .expect_commands(&[("inventory", "ReleaseInventory")])
            .expect_state(SagaState::Compensating)
            .await;
        f.when(I::compensated("reserve"))
            .await
            .expect_commands(&[("orders", "CancelOrder")]);
        f.when(I::compensated("open"))
            .await
            .expect_state(SagaState::Compensated)
            .await;
    }

    #[tokio::test]
    async fn a_confirmed_order_completes_the_saga() {
        let mut f = SagaFixture::new(OrderFulfilment::definition());
        f.given(vec![
            I::start("order-1", data()),
            I::success("open"),
            I::success("reserve"),
            I::success("pay"),
        ])
        .await;
        f.when(I::success("confirm"))
            .await
            .expect_state(SagaState::Completed)
            .await;
    }
}
