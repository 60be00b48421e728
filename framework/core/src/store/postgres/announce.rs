//! Telling subscribers that events were appended, outside the appends' transactions
//! (ADR 0008).
//!
//! PostgreSQL serializes the commits of transactions that called `NOTIFY`: each takes one
//! database-wide lock before its commit record and holds it until the commit is durable. With
//! the notification inside every append, concurrent appends queued behind each other's WAL
//! flush (`Lock:object` in `pg_stat_activity`), which capped a busy deployment at a few hundred
//! appends a second. So an append commits without notifying, and one task per store sends
//! `pg_notify` afterwards in a transaction of its own that writes nothing (no WAL flush under
//! the lock). Announcements coalesce: while one is being sent, any number of appends leave at
//! most one more to send.

use sqlx::PgPool;
use tokio::sync::mpsc;

use super::NOTIFY_CHANNEL;

/// The handle appends use; the task ends when the last handle (the last clone of the store)
/// is dropped.
#[derive(Debug)]
pub(super) struct Announcer {
    pending: mpsc::Sender<()>,
}

impl Announcer {
    /// Starts the task that notifies on `pool` (must be called within a Tokio runtime).
    pub(super) fn start(pool: PgPool) -> Self {
        let (pending, mut wanted) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            while wanted.recv().await.is_some() {
                let sent = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(NOTIFY_CHANNEL)
                    .execute(&pool)
                    .await;
                if let Err(error) = sent {
                    // Subscribers poll as well; a lost wake-up delays them by one interval.
                    tracing::debug!(%error, "NOTIFY after an append failed");
                }
            }
        });
        Self { pending }
    }

    /// Asks for one notification after the appends committed so far; never waits.
    pub(super) fn announce(&self) {
        // Full: a notification is already due and will cover this append too.
        let _ = self.pending.try_send(());
    }
}
