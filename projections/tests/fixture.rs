//! The projection fixture: given events, then documents, without a store or a server.

mod common;

use common::*;
use keel_projections::testing::ProjectionFixture;

#[test]
fn an_order_cancelled_keeps_its_document_with_a_new_status() {
    ProjectionFixture::new(Orders("orders".into()))
        .given_stream("order-1", [placed("ada", 4200), cancelled("late")])
        .then_document(
            "order-1",
            OrderDoc {
                customer: "ada".into(),
                total_cents: 4200,
                status: "cancelled".into(),
                reason: Some("late".into()),
            },
        );
}

#[test]
fn a_customer_erased_is_absent_and_others_stay() {
    ProjectionFixture::new(Customers("customers".into()))
        .given_stream("c-1", [registered("ada")])
        .given_stream("c-2", [registered("bob")])
        .given_stream("c-1", [ShopEvent::CustomerErased])
        .then_absent("c-1")
        .then_document(
            "c-2",
            CustomerDoc {
                name: "bob".into(),
                email: "bob@example.com".into(),
            },
        );
}

#[test]
#[should_panic(expected = "document `order-1`")]
fn then_document_fails_on_a_different_document() {
    ProjectionFixture::new(Orders("orders".into()))
        .given_stream("order-1", [placed("ada", 1)])
        .then_document("order-1", serde_json::json!({"status": "placed"}));
}

#[test]
#[should_panic(expected = "should be absent")]
fn then_absent_fails_when_present() {
    ProjectionFixture::new(Orders("orders".into()))
        .given([placed("ada", 1)])
        .then_absent(ProjectionFixture::<Orders>::STREAM);
}
