//! The runner's configuration, named like Kafka Connect's sink connectors.

use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Result};

/// What the runner does with an event it cannot decode, like Kafka Connect's
/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorTolerance {
    /// The projection stops with [`Error::Decode`](crate::Error::Decode) before the checkpoint.
    #[default]
    None,
    /// The event goes to the dead-letter destination with its reason and the projection goes
    /// on (needs [`with_dead_letters`](crate::ProjectionRunner::with_dead_letters)).
    All,
}

/// How a projection runner batches, flushes and retries.
///
/// ```
/// let config: keel_projections::RunnerConfig =
///     serde_json::from_str(r#"{ "batch.size": 1000, "flush.timeout.ms": 50 }"#)?;
/// assert_eq!(config.batch_size, 1000);
/// assert!(serde_json::from_str::<keel_projections::RunnerConfig>(r#"{ "batch_size": 1 }"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Most events read and written as one batch; a full batch is flushed at once.
    #[serde(rename = "batch.size")]
    pub batch_size: usize,
    /// Most events one read of the store returns while catching up; a page is written in
    /// batches of `batch.size` (a value below `batch.size` reads `batch.size`).
    #[serde(rename = "read.size")]
    pub read_size: usize,
    /// Pages of `read.size` events read at the same time while catching up, each on a
    /// connection of its own, handed over in order; 1 reads one page after the other. Used
    /// where the store can tell where pages end (`EventStore::page_ends`: PostgreSQL);
    /// other stores are read one page after the other.
    #[serde(rename = "read.concurrency")]
    pub read_concurrency: usize,
    /// Longest time, in milliseconds, a partial batch waits for more events before it is flushed.
    #[serde(rename = "flush.timeout.ms")]
    pub flush_timeout_ms: u64,
    /// First wait, in milliseconds, before writing a failed batch again; doubled per failure.
    #[serde(rename = "retry.backoff.ms")]
    pub retry_backoff_ms: u64,
    /// Longest wait, in milliseconds, between two attempts at a failed batch.
    #[serde(rename = "max.retry.backoff.ms")]
    pub max_retry_backoff_ms: u64,
    /// Attempts at one batch before the runner stops with an error; absent means retry forever.
    #[serde(rename = "max.retries")]
    pub max_retries: Option<u32>,
    /// Longest wait, in milliseconds, for new events before polling the store again.
    #[serde(rename = "poll.interval.ms")]
    pub poll_interval_ms: u64,
    /// `none`: an event that does not decode stops the projection; `all`: it is dead-lettered
    /// and the projection goes on.
    #[serde(rename = "errors.tolerance")]
    pub errors_tolerance: ErrorTolerance,
    /// Most batches being written at the same time (each to every sink), like Kafka Connect's
    /// Elasticsearch sink's `max.in.flight.requests`; batches in flight never change the same
    /// document. 1 writes one batch after the other.
    #[serde(rename = "max.in.flight.requests")]
    pub max_in_flight_requests: usize,
    /// Most documents a sink's last acknowledged copies kept while following the store
    /// (`run`), per sink: a batch that changes one of them again plans from that copy instead
    /// of reading it back from the sink (ADR 0053). 0 reads every document back.
    #[serde(rename = "cache.max.documents")]
    pub cache_max_documents: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            read_size: 5_000,
            read_concurrency: 4,
            flush_timeout_ms: 200,
            retry_backoff_ms: 100,
            max_retry_backoff_ms: 30_000,
            max_retries: None,
            poll_interval_ms: 1_000,
            errors_tolerance: ErrorTolerance::None,
            max_in_flight_requests: 2,
            cache_max_documents: 10_000,
        }
    }
}

impl RunnerConfig {
    /// Checks the values that have limits.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Config {
                key: "batch.size",
                reason: "must be at least 1".into(),
            });
        }
        if self.read_concurrency == 0 {
            return Err(Error::Config {
                key: "read.concurrency",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_in_flight_requests == 0 {
            return Err(Error::Config {
                key: "max.in.flight.requests",
                reason: "must be at least 1".into(),
            });
        }
        if self.retry_backoff_ms > self.max_retry_backoff_ms {
            return Err(Error::Config {
                key: "retry.backoff.ms",
                reason: format!(
                    "{} is above max.retry.backoff.ms ({})",
                    self.retry_backoff_ms, self.max_retry_backoff_ms
                ),
            });
        }
        Ok(())
    }

    /// `flush.timeout.ms` as a duration.
    pub fn flush_timeout(&self) -> Duration {
        Duration::from_millis(self.flush_timeout_ms)
    }

    /// `poll.interval.ms` as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::RunnerConfig;

    #[test]
    fn defaults_fill_missing_keys_and_unknown_keys_are_refused() {
        let config: RunnerConfig = serde_json::from_str(r#"{"max.retries": 3}"#).unwrap();
        assert_eq!(config.max_retries, Some(3));
        assert_eq!(config.batch_size, 500);
        assert_eq!(config.errors_tolerance, super::ErrorTolerance::None);
        let all: RunnerConfig = serde_json::from_str(r#"{"errors.tolerance": "all"}"#).unwrap();
        assert_eq!(all.errors_tolerance, super::ErrorTolerance::All);
        assert!(serde_json::from_str::<RunnerConfig>(r#"{"errors.tolerance": "some"}"#).is_err());
        let err = serde_json::from_str::<RunnerConfig>(r#"{"batch.sise": 3}"#).unwrap_err();
        assert!(err.to_string().contains("batch.sise"), "{err}");
    }

    #[test]
    fn validate_refuses_zero_batches_and_inverted_backoff() {
        let zero = RunnerConfig {
            batch_size: 0,
            ..RunnerConfig::default()
        };
        assert!(zero.validate().is_err());
        let none_in_flight = RunnerConfig {
            max_in_flight_requests: 0,
            ..RunnerConfig::default()
        };
        assert!(none_in_flight.validate().is_err());
        let no_reads = RunnerConfig {
            read_concurrency: 0,
            ..RunnerConfig::default()
        };
        let err = no_reads.validate().unwrap_err();
        assert!(err.to_string().contains("read.concurrency"), "{err}");
        let inverted = RunnerConfig {
            retry_backoff_ms: 10,
            max_retry_backoff_ms: 1,
            ..RunnerConfig::default()
        };
        assert!(inverted.validate().is_err());
        assert!(RunnerConfig::default().validate().is_ok());
    }
}
