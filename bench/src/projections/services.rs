//! Reading and cleaning up what a run wrote to Elasticsearch and Redis.

use serde_json::Value;

use super::Env;
use crate::BenchError;

/// The documents behind an index or alias, after a refresh.
pub(super) async fn count(env: &Env, index: &str) -> Result<u64, BenchError> {
    let url = &env.es_url;
    env.http
        .post(format!("{url}/{index}/_refresh"))
        .send()
        .await?
        .error_for_status()?;
    let reply: Value = env
        .http
        .get(format!("{url}/{index}/_count"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply["count"]
        .as_u64()
        .ok_or_else(|| format!("no count in {reply}"))?)
}

/// Unlinks the run's Redis keys; returns how many. On a connection of its own that waits up
/// to a minute per reply: a `SCAN` over millions of keys on a busy server can take longer than
/// the client's default half second.
pub(super) async fn unlink_keys(env: &Env) -> Result<usize, BenchError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(60)));
    let mut conn = redis::Client::open(env.redis_url.as_str())?
        .get_connection_manager_with_config(config)
        .await?;
    let pattern = format!("{}:*", env.base);
    let (mut cursor, mut unlinked) = (0_u64, 0);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let n: usize = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await?;
            unlinked += n;
        }
        if next == 0 {
            return Ok(unlinked);
        }
        cursor = next;
    }
}

/// Deletes the run's indices (by name: wildcard deletes may be refused); returns how many.
pub(super) async fn delete_indices(env: &Env) -> Result<usize, BenchError> {
    let url = &env.es_url;
    let listed: Value = env
        .http
        .get(format!(
            "{url}/_cat/indices/{}-*?format=json&h=index",
            env.base
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut deleted = 0;
    for index in listed.as_array().into_iter().flatten() {
        if let Some(name) = index["index"].as_str() {
            env.http
                .delete(format!("{url}/{name}"))
                .send()
                .await?
                .error_for_status()?;
            deleted += 1;
        }
    }
    Ok(deleted)
}
