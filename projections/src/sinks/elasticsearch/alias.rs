//! Indices behind an alias: what a rebuild without downtime switches atomically.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{Body, Client, refused};
use crate::{Error, Result};

/// The index `alias` points to; `None` when there is no such alias. An index named like the
/// alias is a configuration error: it cannot be switched.
pub(crate) async fn target(client: &Client, alias: &str) -> Result<Option<String>> {
    let reply = client
        .send(Method::GET, &format!("_alias/{alias}"), None)
        .await?;
    if reply.status == StatusCode::NOT_FOUND {
        let index = client.send(Method::HEAD, alias, None).await?;
        if index.status.is_success() {
            return Err(Error::Config {
                key: "index",
                reason: format!("`{alias}` is an index, not an alias: a rebuild needs an alias"),
            });
        }
        return Ok(None);
    }
    if !reply.status.is_success() {
        return Err(refused(&format!("reading alias `{alias}`"), &reply));
    }
    Ok(reply
        .body
        .as_object()
        .and_then(|indices| indices.keys().next().cloned()))
}

/// Points `alias` at `new` (and away from `old`) in one atomic `_aliases` call.
pub(crate) async fn switch(
    client: &Client,
    alias: &str,
    old: Option<&str>,
    new: &str,
) -> Result<()> {
    let mut actions = Vec::new();
    if let Some(old) = old {
        actions.push(json!({ "remove": { "index": old, "alias": alias } }));
    }
    actions.push(json!({ "add": { "index": new, "alias": alias, "is_write_index": true } }));
    let reply = client
        .send(
            Method::POST,
            "_aliases",
            Some(Body::Json(json!({ "actions": actions }))),
        )
        .await?;
    if !reply.status.is_success() {
        return Err(refused(
            &format!("switching alias `{alias}` to `{new}`"),
            &reply,
        ));
    }
    Ok(())
}

/// Makes everything written to `index` visible to search.
pub(crate) async fn refresh(client: &Client, index: &str) -> Result<()> {
    let reply = client
        .send(Method::POST, &format!("{index}/_refresh"), None)
        .await?;
    if !reply.status.is_success() {
        return Err(refused(&format!("refreshing `{index}`"), &reply));
    }
    Ok(())
}

/// Deletes an index (a missing one is fine).
pub(crate) async fn delete(client: &Client, index: &str) -> Result<()> {
    let reply = client.send(Method::DELETE, index, None).await?;
    if !reply.status.is_success() && reply.status != StatusCode::NOT_FOUND {
        return Err(refused(&format!("deleting `{index}`"), &reply));
    }
    Ok(())
}

/// A fresh generation's index name: `<alias>-g<milliseconds since the epoch>`.
pub(crate) fn generation_name(alias: &str) -> String {
    format!("{alias}-g{}", chrono::Utc::now().timestamp_millis())
}
