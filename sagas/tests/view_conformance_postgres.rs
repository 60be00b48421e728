//! The saga view conformance suite on the PostgreSQL of the local stack (`make up`); each check
//! names its choreography uniquely, so the shared database is fine.
#![cfg(feature = "integration")]

keel_sagas::choreography_view_conformance!(|c| async move {
    let url = keel_core::testing::stack::postgres().require().url;
    keel_sagas::choreography::PostgresChoreographyView::connect(&url, c)
        .await
        .expect("connect to PostgreSQL")
});
