//! Reading documents and their versions under one key prefix, in one pipeline.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use serde_json::Value;

use super::codec;
use super::config::{RedisFormat, doc_key, version_key};
use super::sink::classify;
use crate::sink::Stored;
use crate::{Error, Result};

/// The documents (or tombstones) of `keys` under `prefix`; missing keys are absent.
pub(crate) async fn load(
    conn: &ConnectionManager,
    format: RedisFormat,
    prefix: &str,
    keys: &[String],
) -> Result<HashMap<String, Stored>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("GET").arg(version_key(prefix, key));
        match format {
            RedisFormat::Json => pipe.cmd("GET").arg(doc_key(prefix, key)),
            RedisFormat::Hash => pipe.cmd("HGETALL").arg(doc_key(prefix, key)),
        };
    }
    let mut conn = conn.clone();
    let replies: Vec<redis::Value> = pipe.query_async(&mut conn).await.map_err(classify)?;
    let mut stored = HashMap::new();
    for (key, pair) in keys.iter().zip(replies.chunks(2)) {
        let [version, doc] = pair else {
            continue;
        };
        let version: Option<u64> = redis::from_redis_value_ref(version).map_err(unexpected)?;
        let doc = decode(format, key, doc)?;
        if version.is_some() || doc.is_some() {
            stored.insert(
                key.clone(),
                Stored {
                    version: version.unwrap_or(0),
                    doc,
                },
            );
        }
    }
    Ok(stored)
}

fn decode(format: RedisFormat, key: &str, reply: &redis::Value) -> Result<Option<Value>> {
    match format {
        RedisFormat::Json => {
            let text: Option<String> = redis::from_redis_value_ref(reply).map_err(unexpected)?;
            text.map(|t| serde_json::from_str::<Value>(&t))
                .transpose()
                .map_err(|e| Error::Refused {
                    sink: "redis",
                    reason: format!("document `{key}` is not JSON: {e}"),
                })
        }
        RedisFormat::Hash => {
            let fields: Vec<(String, String)> =
                redis::from_redis_value_ref(reply).map_err(unexpected)?;
            Ok((!fields.is_empty()).then(|| codec::from_fields(fields)))
        }
    }
}

/// A reply of an unexpected type (a key holding something else than this sink writes).
fn unexpected(error: impl std::fmt::Display) -> Error {
    Error::Refused {
        sink: "redis",
        reason: format!("unexpected reply: {error}"),
    }
}
