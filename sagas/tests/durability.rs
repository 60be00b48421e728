//! Crash recovery on the embedded backends: a coordinator dropped mid-saga, a new one resumes.

mod common;

use common::{assert_final, crash_mid_saga_then_resume, unique};
use keel_sagas::SagaState;
use keel_sagas::store::MemorySagaStore;

#[tokio::test(flavor = "multi_thread")]
async fn memory_resumed_saga_completes_without_repeating_a_step() {
    let store = MemorySagaStore::new();
    let saga = crash_mid_saga_then_resume(|| async { store.clone() }, None).await;
    assert_final(&saga, SagaState::Completed);
}

#[cfg(feature = "sqlite")]
fn sqlite_url() -> String {
    let path = std::env::temp_dir().join(format!("{}.db", unique("keel-sagas", '-')));
    format!("sqlite://{}", path.display())
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_resumed_saga_completes_without_repeating_a_step() {
    use keel_sagas::store::SqliteSagaStore;
    let url = sqlite_url();
    let saga = crash_mid_saga_then_resume(
        || async { SqliteSagaStore::connect(&url).await.unwrap() },
        None,
    )
    .await;
    assert_final(&saga, SagaState::Completed);
    assert_eq!(saga.completed_steps, vec![0, 1, 2]);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_resumed_saga_compensates_in_reverse_without_repeating_a_step() {
    use keel_sagas::store::SqliteSagaStore;
    let url = sqlite_url();
    let saga = crash_mid_saga_then_resume(
        || async { SqliteSagaStore::connect(&url).await.unwrap() },
        Some("Ship"),
    )
    .await;
    assert_final(&saga, SagaState::Compensated);
    assert_eq!(saga.compensated_steps, vec![1, 0]);
}
