//! [`RedisReader`]: reads documents the way a [`RedisSink`](super::RedisSink) wrote them,
//! following the generation pointer when the model has one.

use std::collections::HashMap;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;

use super::config::RedisSinkConfig;
use super::sink::unavailable;
use super::{generation, read};
use crate::{Error, Result};

/// Most times a read is tried again because the generation switched while it ran.
const ATTEMPTS: usize = 8;

/// Reads a Redis read model: documents by key, decoded from the configured `format`.
///
/// With generations (a sink built with
/// [`RedisSink::build_with_generations`](super::RedisSink::build_with_generations)) it reads the
/// pointer `<prefix>~generation`, then the documents under `<prefix>~<generation>:`; when a
/// document is missing and the pointer changed in between (a rebuild switched and dropped the
/// old generation), it reads again in the new generation. So a reader sees either the complete
/// old model or the complete new one. Without a pointer it reads `<prefix><key>`.
#[derive(Clone)]
pub struct RedisReader {
    config: RedisSinkConfig,
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisReader {
    /// Connects with the sink's configuration (`url`, `key.prefix`, `format`, `timeout.ms`).
    pub async fn connect(config: RedisSinkConfig) -> Result<Self> {
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
        Ok(Self { config, conn })
    }

    /// The document stored under `key`, `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Value>> {
        let mut docs = self.get_many(&[key.to_owned()]).await?;
        Ok(docs.remove(key))
    }

    /// The documents of `keys` that exist, all read from the same generation.
    pub async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>> {
        let pointer = self.config.generation_key();
        let mut generation = generation::current(&self.conn, &pointer).await?;
        for _ in 0..ATTEMPTS {
            let prefix = generation.as_deref().map_or_else(
                || self.config.key_prefix.clone(),
                |g| self.config.generation_prefix(g),
            );
            let docs: HashMap<String, Value> =
                read::load(&self.conn, self.config.format, &prefix, keys)
                    .await?
                    .into_iter()
                    .filter_map(|(key, stored)| stored.doc.map(|doc| (key, doc)))
                    .collect();
            if docs.len() == keys.len() {
                return Ok(docs);
            }
            let now = generation::current(&self.conn, &pointer).await?;
            if now == generation {
                return Ok(docs);
            }
            generation = now;
        }
        Err(Error::Unavailable {
            sink: "redis",
            reason: format!(
                "generation pointer `{pointer}` changed during each of {ATTEMPTS} reads"
            ),
        })
    }

    /// The generation the model's pointer names, `None` for a model without generations.
    pub async fn generation(&self) -> Result<Option<String>> {
        generation::current(&self.conn, &self.config.generation_key()).await
    }
}
