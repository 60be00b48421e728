//! The Redis catch-up once more, from a `MemoryStore` holding the same history: the runner and
//! the sink with reading made nearly free (no server, no wire, no decoding; each event is a
//! clone). Beside the catch-up from PostgreSQL it tells the store's part of a catch-up from the
//! projection's own.

use std::time::Duration;

use keel_core::store::MemoryStore;
use keel_projections::RunnerConfig;

use super::model::append_accounts;
use super::{ACCOUNTS, Env, Sizes, redis_runner, timed_catch_up};
use crate::BenchError;
use crate::cpu::{CpuMeter, CpuUse};

/// Fills a `MemoryStore` with the history, then catches a fresh Redis projection up with it
/// (keys under `<base>:memory:`); returns the time the catch-up took and its CPU.
pub(super) async fn catch_up_redis(
    env: &Env,
    sizes: Sizes,
    config: &RunnerConfig,
) -> Result<(Duration, CpuUse), BenchError> {
    let store = MemoryStore::new();
    append_accounts(
        &store,
        ACCOUNTS,
        0..sizes.accounts(),
        sizes.per_doc,
        1,
        "memory store: append history",
    )
    .await?;
    let runner = redis_runner(env, &store, "memory", "memory", config).await?;
    let meter = CpuMeter::start();
    let took = timed_catch_up(
        &runner,
        &store,
        sizes.history(),
        "catch-up from memory: redis",
    )
    .await?;
    Ok((took, meter.stop()))
}
