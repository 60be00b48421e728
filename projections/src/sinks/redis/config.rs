//! The Redis sink's configuration.

use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Result};

/// How documents are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisFormat {
    /// The document as one JSON string (`GET key`).
    #[default]
    Json,
    /// The document's top-level fields as a hash (`HGETALL key`): strings as they are, other
    /// values as JSON text. The document must be a JSON object.
    Hash,
}

/// Where and how the Redis sink writes.
///
/// ```
/// let config: keel_projections::sinks::redis::RedisSinkConfig = serde_json::from_str(
///     r#"{ "url": "redis://127.0.0.1:6379/", "key.prefix": "orders:", "ttl.secs": 3600, "format": "hash" }"#,
/// )?;
/// assert_eq!(config.key("42"), "orders:42");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSinkConfig {
    /// The server, as a `redis://` URL.
    pub url: String,
    /// Put in front of every document key (`orders:` makes key `42` into `orders:42`).
    #[serde(rename = "key.prefix")]
    pub key_prefix: String,
    /// Time to live in seconds, set on every write; absent means documents do not expire.
    #[serde(rename = "ttl.secs")]
    pub ttl_secs: Option<u64>,
    /// `json` (one string) or `hash` (one field per top-level field).
    pub format: RedisFormat,
    /// How long, in seconds, the version of a deleted document is remembered, so that a late
    /// re-delivery of an older event cannot bring the document back.
    #[serde(rename = "tombstone.ttl.secs")]
    pub tombstone_ttl_secs: u64,
    /// Longest wait, in milliseconds, to connect or for a reply before the call fails (and the
    /// runner retries).
    #[serde(rename = "timeout.ms")]
    pub timeout_ms: u64,
}

impl Default for RedisSinkConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/".into(),
            key_prefix: String::new(),
            ttl_secs: None,
            format: RedisFormat::Json,
            tombstone_ttl_secs: 86_400,
            timeout_ms: 5_000,
        }
    }
}

impl RedisSinkConfig {
    /// The defaults with this server URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The same configuration with another server URL.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The Redis key of a document (in a model without generations).
    pub fn key(&self, key: &str) -> String {
        doc_key(&self.key_prefix, key)
    }

    /// The Redis key holding a document's version (and, after a delete, its tombstone), in a
    /// model without generations.
    pub fn version_key(&self, key: &str) -> String {
        version_key(&self.key_prefix, key)
    }

    /// The key of the generation pointer, `<prefix>~generation`: it names the current
    /// generation of a model built with [`RedisSink::build_with_generations`](super::RedisSink::build_with_generations).
    pub fn generation_key(&self) -> String {
        format!("{}~generation", self.key_prefix)
    }

    /// What the keys of generation `generation` start with: `<prefix>~<generation>:`.
    pub fn generation_prefix(&self, generation: &str) -> String {
        format!("{}~{generation}:", self.key_prefix)
    }

    /// Checks the values that have limits.
    pub fn validate(&self) -> Result<()> {
        if self.ttl_secs == Some(0) {
            return Err(Error::Config {
                key: "ttl.secs",
                reason: "must be at least 1; leave it out for no expiry".into(),
            });
        }
        if self.tombstone_ttl_secs == 0 {
            return Err(Error::Config {
                key: "tombstone.ttl.secs",
                reason: "must be at least 1".into(),
            });
        }
        if self.timeout_ms == 0 {
            return Err(Error::Config {
                key: "timeout.ms",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// `timeout.ms` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// A document's key under `prefix`.
pub(crate) fn doc_key(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}")
}

/// A document's version key under `prefix`.
pub(crate) fn version_key(prefix: &str, key: &str) -> String {
    format!("{prefix}~version:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_formats_are_refused() {
        assert!(serde_json::from_str::<RedisSinkConfig>(r#"{"prefix": "x"}"#).is_err());
        assert!(serde_json::from_str::<RedisSinkConfig>(r#"{"format": "xml"}"#).is_err());
        let config: RedisSinkConfig = serde_json::from_str(r#"{"format": "hash"}"#).unwrap();
        assert_eq!(config.format, RedisFormat::Hash);
        assert_eq!(config.version_key("7"), "~version:7");
        let orders = RedisSinkConfig {
            key_prefix: "orders:".into(),
            ..RedisSinkConfig::default()
        };
        assert_eq!(orders.generation_key(), "orders:~generation");
        assert_eq!(orders.generation_prefix("g7"), "orders:~g7:");
    }

    #[test]
    fn zero_ttl_is_refused() {
        let config = RedisSinkConfig {
            ttl_secs: Some(0),
            ..RedisSinkConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(Error::Config {
                key: "ttl.secs",
                ..
            })
        ));
    }
}
