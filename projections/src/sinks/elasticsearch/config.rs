//! The Elasticsearch sink's configuration.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// Where and how the Elasticsearch sink writes.
///
/// ```
/// let config: keel_projections::sinks::elasticsearch::ElasticsearchSinkConfig = serde_json::from_str(
///     r#"{ "url": "http://127.0.0.1:9200", "index": "orders", "mapping": { "status": { "type": "keyword" } } }"#,
/// )?;
/// assert_eq!(config.index, "orders");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElasticsearchSinkConfig {
    /// The node, as an `http://` or `https://` URL.
    pub url: String,
    /// The index (or alias) documents are written to; created on first use when missing.
    pub index: String,
    /// The index's field mappings (the `properties` object), used to create the index and
    /// checked against an existing one.
    pub mapping: Option<Value>,
    /// Longest wait, in milliseconds, for a reply before the call fails (and the runner retries).
    #[serde(rename = "timeout.ms")]
    pub timeout_ms: u64,
    /// Whether a bulk write waits until its documents are visible to search (`refresh=wait_for`).
    pub refresh: bool,
}

impl Default for ElasticsearchSinkConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9200".into(),
            index: String::new(),
            mapping: None,
            timeout_ms: 10_000,
            refresh: false,
        }
    }
}

impl ElasticsearchSinkConfig {
    /// The defaults with this node URL and index.
    pub fn new(url: impl Into<String>, index: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            index: index.into(),
            ..Self::default()
        }
    }

    /// Sets the field mappings (the `properties` object).
    #[must_use]
    pub fn with_mapping(mut self, properties: Value) -> Self {
        self.mapping = Some(properties);
        self
    }

    /// Checks the values that have limits.
    pub fn validate(&self) -> Result<()> {
        let index = &self.index;
        if index.is_empty()
            || index.starts_with(['_', '-', '+'])
            || index.chars().any(|c| {
                c.is_ascii_uppercase()
                    || matches!(
                        c,
                        '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                    )
            })
        {
            return Err(Error::Config {
                key: "index",
                reason: format!(
                    "`{index}` is not a valid index name (lowercase, no spaces or \\/*?\"<>|,#:, not starting with _ - +)"
                ),
            });
        }
        if self.mapping.as_ref().is_some_and(|m| !m.is_object()) {
            return Err(Error::Config {
                key: "mapping",
                reason: "must be an object of field mappings".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_are_checked() {
        assert!(
            ElasticsearchSinkConfig::new("http://x", "orders")
                .validate()
                .is_ok()
        );
        for bad in ["", "Orders", "_x", "a b", "a,b"] {
            assert!(
                ElasticsearchSinkConfig::new("http://x", bad)
                    .validate()
                    .is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<ElasticsearchSinkConfig>(r#"{"indx": "a"}"#).is_err());
    }
}
