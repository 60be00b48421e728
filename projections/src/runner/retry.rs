//! Retrying sink calls with a growing wait while a sink is down.

use std::future::Future;
use std::time::Duration;

use crate::config::RunnerConfig;
use crate::{Error, Result};

/// Runs `op` until it succeeds or fails for good, waiting `retry.backoff.ms` (doubled per
/// failure up to `max.retry.backoff.ms`) after each retryable failure, at most `max.retries`
/// times when that is set.
pub(crate) async fn with_retries<T, F, Fut>(
    projection: &str,
    operation: &'static str,
    config: &RunnerConfig,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut wait = Duration::from_millis(config.retry_backoff_ms);
    let max_wait = Duration::from_millis(config.max_retry_backoff_ms);
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        match op().await {
            Err(error) if error.is_retryable() => {
                if config.max_retries.is_some_and(|max| attempts > max) {
                    return Err(Error::RetriesExhausted {
                        projection: projection.to_owned(),
                        attempts,
                        source: Box::new(error),
                    });
                }
                tracing::warn!(
                    projection,
                    operation,
                    %error,
                    attempts,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "Sink call failed; retrying."
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(max_wait);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn unavailable() -> Error {
        Error::Unavailable {
            sink: "test",
            reason: "down".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retries("p", "write", &RunnerConfig::default(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(unavailable())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_retries_and_not_at_all_on_permanent_errors() {
        let config = RunnerConfig {
            max_retries: Some(2),
            ..RunnerConfig::default()
        };
        let calls = AtomicU32::new(0);
        let result: Result<()> = with_retries("p", "write", &config, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(unavailable())
        })
        .await;
        assert!(matches!(
            result,
            Err(Error::RetriesExhausted { attempts: 3, .. })
        ));

        let calls = AtomicU32::new(0);
        let result: Result<()> = with_retries("p", "write", &config, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::Refused {
                sink: "test",
                reason: "no".into(),
            })
        })
        .await;
        assert!(matches!(result, Err(Error::Refused { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
