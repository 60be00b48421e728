//! With no database URL configured, the store is SQLite (the embedded default).

use keel_core::store::{AnyStore, EventStore, ExpectedVersion};

#[tokio::test]
async fn no_url_means_a_sqlite_file_in_the_working_directory() {
    let dir = std::env::temp_dir().join(format!("keel-default-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::env::set_current_dir(&dir).expect("cd");
    let store = AnyStore::connect(None).await.expect("default store");
    assert!(matches!(store, AnyStore::Sqlite(_)), "{store:?}");
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![keel_core::doc::new_event()],
        )
        .await
        .expect("append");
    assert!(dir.join("keel.db").exists(), "the events are in ./keel.db");
}
