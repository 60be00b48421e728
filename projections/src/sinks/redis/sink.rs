//! [`RedisSink`]: loads with one pipeline, writes with one pipeline of guarded script calls.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RetryMethod, ServerErrorKind};
use serde_json::Value;

use super::codec;
use super::config::{RedisFormat, RedisSinkConfig};
use super::script::{self, Write};
use crate::sink::{Change, Op, Rejected, Sink, Stored, WriteReport};
use crate::{Error, Result};

/// Writes documents to Redis; see the [module](super) for the layout.
#[derive(Clone)]
pub struct RedisSink {
    config: RedisSinkConfig,
    conn: ConnectionManager,
    guard: redis::Script,
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisSink {
    /// Checks the configuration, connects, and loads the guard script: a sink that cannot work
    /// fails here, not at the first event.
    pub async fn build(config: RedisSinkConfig) -> Result<Self> {
        config.validate()?;
        let client = redis::Client::open(config.url.as_str()).map_err(|e| Error::Config {
            key: "url",
            reason: e.to_string(),
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout()))
            .set_response_timeout(Some(config.timeout()))
            .set_number_of_retries(1);
        let conn = client
            .get_connection_manager_with_config(manager_config)
            .await
            .map_err(unavailable)?;
        let sink = Self {
            config,
            conn,
            guard: script::guard(),
        };
        sink.load_script().await?;
        Ok(sink)
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RedisSinkConfig {
        &self.config
    }

    async fn load_script(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        self.guard
            .load_async(&mut conn)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    fn pipeline(&self, changes: &[Change]) -> (redis::Pipeline, Vec<usize>, Vec<Rejected>) {
        let ttl_ms = self.config.ttl_secs.map_or(0, |s| s.saturating_mul(1000));
        let tombstone_ms = self.config.tombstone_ttl_secs.saturating_mul(1000);
        let sha = self.guard.get_hash();
        let mut pipe = redis::pipe();
        let mut sent = Vec::with_capacity(changes.len());
        let mut rejected = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let fields;
            let write = match (&change.op, self.config.format) {
                (Op::Delete, _) => Write::Delete,
                (Op::Upsert(doc), RedisFormat::Json) => Write::Json(doc.to_string()),
                (Op::Upsert(doc), RedisFormat::Hash) => match codec::to_fields(doc) {
                    Some(f) => {
                        fields = f;
                        Write::Hash(&fields)
                    }
                    None => {
                        rejected.push(Rejected {
                            key: change.key.clone(),
                            reason: "format `hash` stores JSON objects only".into(),
                        });
                        continue;
                    }
                },
            };
            let key = self.config.key(&change.key);
            let version_key = self.config.version_key(&change.key);
            script::add_call(
                &mut pipe,
                sha,
                [&key, &version_key],
                change.version,
                ttl_ms,
                tombstone_ms,
                &write,
            );
            sent.push(index);
        }
        (pipe, sent, rejected)
    }
}

#[async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Stored>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("GET").arg(self.config.version_key(key));
            match self.config.format {
                RedisFormat::Json => pipe.cmd("GET").arg(self.config.key(key)),
                RedisFormat::Hash => pipe.cmd("HGETALL").arg(self.config.key(key)),
            };
        }
        let mut conn = self.conn.clone();
        let replies: Vec<redis::Value> = pipe.query_async(&mut conn).await.map_err(classify)?;
        let mut stored = HashMap::new();
        for (key, pair) in keys.iter().zip(replies.chunks(2)) {
            let [version, doc] = pair else {
                continue;
            };
            let version: Option<u64> = redis::from_redis_value_ref(version).map_err(unexpected)?;
            let doc = match self.config.format {
                RedisFormat::Json => {
                    let text: Option<String> =
                        redis::from_redis_value_ref(doc).map_err(unexpected)?;
                    text.map(|t| serde_json::from_str::<Value>(&t))
                        .transpose()
                        .map_err(|e| Error::Refused {
                            sink: "redis",
                            reason: format!("document `{key}` is not JSON: {e}"),
                        })?
                }
                RedisFormat::Hash => {
                    let fields: Vec<(String, String)> =
                        redis::from_redis_value_ref(doc).map_err(unexpected)?;
                    (!fields.is_empty()).then(|| codec::from_fields(fields))
                }
            };
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

    async fn write(&self, changes: &[Change]) -> Result<WriteReport> {
        let (pipe, sent, rejected) = self.pipeline(changes);
        let mut report = WriteReport {
            rejected,
            ..WriteReport::default()
        };
        if sent.is_empty() {
            return Ok(report);
        }
        let mut conn = self.conn.clone();
        let replies: Vec<i64> = match pipe.query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                // The server lost its script cache (restart, SCRIPT FLUSH): load and send again.
                self.load_script().await?;
                pipe.query_async(&mut conn).await.map_err(classify)?
            }
            other => other.map_err(classify)?,
        };
        for written in replies {
            if written == 1 {
                report.written += 1;
            } else {
                report.stale += 1;
            }
        }
        Ok(report)
    }
}

/// A connection or server-side transient failure is retryable; anything else is not.
fn classify(error: RedisError) -> Error {
    if matches!(error.retry_method(), RetryMethod::NoRetry) && !error.is_timeout() {
        Error::Refused {
            sink: "redis",
            reason: error.to_string(),
        }
    } else {
        unavailable(error)
    }
}

fn unavailable(error: RedisError) -> Error {
    Error::Unavailable {
        sink: "redis",
        reason: error.to_string(),
    }
}

/// A reply of an unexpected type (a key holding something else than this sink writes).
fn unexpected(error: impl std::fmt::Display) -> Error {
    Error::Refused {
        sink: "redis",
        reason: format!("unexpected reply: {error}"),
    }
}
