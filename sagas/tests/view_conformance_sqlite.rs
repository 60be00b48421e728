//! The saga view conformance suite on SQLite (in memory).
#![cfg(feature = "sqlite")]

keel_sagas::choreography_view_conformance!(|c| async move {
    keel_sagas::choreography::SqliteChoreographyView::connect("sqlite::memory:", c)
        .await
        .expect("open SQLite")
});
