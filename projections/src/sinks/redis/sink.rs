//! [`RedisSink`]: loads with one pipeline, writes with one pipeline of guarded script calls (one
//! per chunk of changes).

use std::collections::HashMap;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RetryMethod, ServerErrorKind};

use super::config::{RedisFormat, RedisSinkConfig, doc_key, version_key};
use super::script::{self, Call, Write};
use super::{codec, generation, read};
use crate::sink::{Change, Op, Rejected, Sink, Stored, WriteReport};
use crate::{Error, Result};

/// Writes documents to Redis; see the [module](super) for the layout.
#[derive(Clone)]
pub struct RedisSink {
    config: RedisSinkConfig,
    conn: ConnectionManager,
    guard: redis::Script,
    keyspace: Keyspace,
}

/// Where the documents' keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keyspace {
    /// `<prefix><key>`.
    Plain,
    /// The generation the pointer names, read at every call.
    Current,
    /// `<prefix>~<generation>:<key>` for this generation (what a rebuild fills).
    Fixed(String),
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("config", &self.config)
            .field("keyspace", &self.keyspace)
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
            keyspace: Keyspace::Plain,
        };
        sink.load_script().await?;
        Ok(sink)
    }

    /// Like [`build`](Self::build), but documents live in key generations: the pointer
    /// `<prefix>~generation` names the current one (a first generation is created when it is
    /// missing) and documents are under `<prefix>~<generation>:<key>`. Every load and write
    /// follows the pointer, so that [`rebuild_redis`](crate::rebuild_redis) can later switch it.
    /// Readers resolve it too: [`RedisReader`](super::RedisReader).
    pub async fn build_with_generations(config: RedisSinkConfig) -> Result<Self> {
        let mut sink = Self::build(config).await?;
        generation::ensure(&sink.conn, &sink.config.generation_key()).await?;
        sink.keyspace = Keyspace::Current;
        Ok(sink)
    }

    /// The same sink writing to generation `generation`, whatever the pointer says.
    pub(crate) fn at_generation(&self, generation: &str) -> Self {
        Self {
            keyspace: Keyspace::Fixed(generation.to_owned()),
            ..self.clone()
        }
    }

    /// The generation the pointer names now (`None` without generations).
    pub(crate) async fn current_generation(&self) -> Result<Option<String>> {
        generation::current(&self.conn, &self.config.generation_key()).await
    }

    /// Points the model from generation `old` to `new` atomically.
    pub(crate) async fn switch_generation(&self, old: &str, new: &str) -> Result<()> {
        generation::switch(&self.conn, &self.config.generation_key(), old, new).await
    }

    /// Deletes every key of `generation`; returns how many.
    pub(crate) async fn drop_generation(&self, generation: &str) -> Result<usize> {
        generation::drop_keys(&self.conn, &self.config.generation_prefix(generation)).await
    }

    /// What this sink's keys start with now.
    async fn prefix(&self) -> Result<String> {
        match &self.keyspace {
            Keyspace::Plain => Ok(self.config.key_prefix.clone()),
            Keyspace::Fixed(generation) => Ok(self.config.generation_prefix(generation)),
            Keyspace::Current => {
                let pointer = self.config.generation_key();
                match generation::current(&self.conn, &pointer).await? {
                    Some(generation) => Ok(self.config.generation_prefix(&generation)),
                    None => Err(Error::Refused {
                        sink: "redis",
                        reason: format!(
                            "generation pointer `{pointer}` is missing: the model's generations were deleted"
                        ),
                    }),
                }
            }
        }
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

    /// The batch as a pipeline of guarded script calls (one per [`script::CHUNK`] changes),
    /// with the index of each change sent, in order, and the changes refused before sending.
    fn pipeline(
        &self,
        prefix: &str,
        changes: &[Change],
    ) -> (redis::Pipeline, Vec<usize>, Vec<Rejected>) {
        let ttl_ms = self.config.ttl_secs.map_or(0, |s| s.saturating_mul(1000));
        let tombstone_ms = self.config.tombstone_ttl_secs.saturating_mul(1000);
        let sha = self.guard.get_hash();
        let mut pipe = redis::pipe();
        let mut sent = Vec::with_capacity(changes.len());
        let mut rejected = Vec::new();
        let mut call = Call::new(ttl_ms, tombstone_ms);
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
            let keys = [
                doc_key(prefix, &change.key),
                version_key(prefix, &change.key),
            ];
            call.add(keys, change.version, write);
            sent.push(index);
            if call.len() == script::CHUNK {
                call.add_to(&mut pipe, sha);
                call = Call::new(ttl_ms, tombstone_ms);
            }
        }
        if call.len() > 0 {
            call.add_to(&mut pipe, sha);
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
        let prefix = self.prefix().await?;
        read::load(&self.conn, self.config.format, &prefix, keys).await
    }

    async fn write(&self, changes: &[Change]) -> Result<WriteReport> {
        let prefix = self.prefix().await?;
        let (pipe, sent, rejected) = self.pipeline(&prefix, changes);
        let mut report = WriteReport {
            rejected,
            ..WriteReport::default()
        };
        if sent.is_empty() {
            return Ok(report);
        }
        let mut conn = self.conn.clone();
        let replies: Vec<Vec<i64>> = match pipe.query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                // The server lost its script cache (restart, SCRIPT FLUSH): load and send again.
                self.load_script().await?;
                pipe.query_async(&mut conn).await.map_err(classify)?
            }
            other => other.map_err(classify)?,
        };
        for written in replies.into_iter().flatten() {
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
pub(super) fn classify(error: RedisError) -> Error {
    if matches!(error.retry_method(), RetryMethod::NoRetry) && !error.is_timeout() {
        Error::Refused {
            sink: "redis",
            reason: error.to_string(),
        }
    } else {
        unavailable(error)
    }
}

pub(super) fn unavailable(error: RedisError) -> Error {
    Error::Unavailable {
        sink: "redis",
        reason: error.to_string(),
    }
}
