//! The binlog stream's lifetime: open it at the resume point, consume it, and reconnect with
//! backoff after a dropped connection.

use std::time::Duration;

use tracing::warn;

use super::Capture;
use super::emit::Emitter;
use super::state::{Outcome, State};
use crate::binlog;
use crate::offsets::Offset;
use crate::{Error, Result};

/// How many times in a row a dropped connection is retried before capture gives up.
const MAX_RECONNECTS: u32 = 10;

impl Capture {
    pub(super) async fn stream_binlog(
        &self,
        opts: &mysql_async::Opts,
        out: &Emitter,
        state: &mut State,
        end: Option<&Offset>,
    ) -> Result<Outcome> {
        let mut failures = 0u32;
        loop {
            let attempt = match binlog::open(
                opts,
                self.config.server_id,
                &state.resume,
                self.resume_by,
            )
            .await
            {
                Ok(stream) => {
                    let mut events = binlog::ReadAhead::spawn(stream);
                    let outcome = self
                        .consume(&mut events, out, state, end, &mut failures)
                        .await;
                    if outcome.is_ok() {
                        // A lost connection is only dropped.
                        events.close().await;
                    }
                    outcome
                }
                Err(e) => Err(e),
            };
            match attempt {
                Err(Error::Mysql(error)) if is_connection_loss(&error) => {
                    failures += 1;
                    if failures > MAX_RECONNECTS {
                        return Err(Error::Mysql(error));
                    }
                    let wait = keel_backoff(failures);
                    warn!(%error, attempt = failures, wait_ms = wait.as_millis() as u64, "Binlog connection lost; reconnecting.");
                    tokio::time::sleep(wait).await;
                    state.prepare_reconnect();
                }
                // ER_MASTER_FATAL_ERROR_READING_BINLOG: the position is gone.
                Err(Error::Mysql(mysql_async::Error::Server(e))) if e.code == 1236 => {
                    return Err(Error::PositionUnavailable {
                        file: state.resume.file.clone(),
                        pos: state.resume.pos,
                        reason: e.message,
                        offsets: self.config.offset_storage.describe(),
                    });
                }
                other => return other,
            }
        }
    }
}

/// A dropped connection (I/O error, closed connection, or the server killing the dump
/// thread), worth a reconnect; anything else is not.
fn is_connection_loss(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        // ER_CONNECTION_KILLED, ER_SERVER_SHUTDOWN.
        mysql_async::Error::Server(e) => matches!(e.code, 1927 | 1053),
        _ => false,
    }
}

/// 100 ms doubled per failure, at most 30 s.
fn keel_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_millis((100u64 << exp).min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(keel_backoff(1), Duration::from_millis(100));
        assert_eq!(keel_backoff(3), Duration::from_millis(400));
        assert_eq!(keel_backoff(40), Duration::from_secs(30));
    }
}
