//! The in-process library API: change events decoded in this process, without Kafka, with an
//! explicit acknowledgement that advances the stored offset (ADR 0043).

mod event;

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use event::ChangeEvent;

use crate::runner::RunSummary;
use crate::{Error, Result};

/// Change events of a running capture, in binlog order, with the same values (envelope, keys,
/// transforms, transaction and schema change records) as the Kafka records would have.
///
/// Offsets advance only up to what the consumer acknowledged with [`ack`](Self::ack): after a
/// crash or a [`close`](Self::close), capture resumes after the last acknowledged event, so an
/// event the consumer did not acknowledge is delivered again (at least once). At most
/// `max.queue.size` events are in flight unacknowledged; then capture waits.
///
/// The stream ends (`None`) when the run ends (with `exit_at_end`, `stop_after_records`, or
/// an error, which is then the last item); [`close`](Self::close) it then, or at any time, to
/// stop capture and store the offset of what was acknowledged.
///
/// ```no_run
/// # async fn demo() -> keel_capture::Result<()> {
/// use futures::StreamExt;
/// use keel_capture::{Capture, ConnectorConfig};
///
/// let parsed = ConnectorConfig::from_file("connector.json".as_ref())?;
/// let mut changes = Capture::new(parsed.config).into_stream();
/// while let Some(event) = changes.next().await {
///     let event = event?;
///     if let (Some("c" | "u"), Some(value)) = (event.op(), &event.value) {
///         println!("{} {}", event.topic, value["after"]);
///     }
///     changes.ack(&event);
/// }
/// let summary = changes.close().await?;
/// # Ok(()) }
/// ```
pub struct ChangeStream {
    events: mpsc::Receiver<Result<ChangeEvent>>,
    acks: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<RunSummary>>,
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("acknowledged", &*self.acks.borrow())
            .finish_non_exhaustive()
    }
}

impl ChangeStream {
    pub(crate) fn new(
        events: mpsc::Receiver<Result<ChangeEvent>>,
        acks: watch::Sender<u64>,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<Result<RunSummary>>,
    ) -> Self {
        Self {
            events,
            acks,
            shutdown,
            task,
        }
    }

    /// Acknowledges `event` and every event before it: capture may store the offset after it
    /// (at its next store, every `poll.interval.ms`, and when it stops).
    pub fn ack(&self, event: &ChangeEvent) {
        let seq = event.sequence();
        self.acks.send_if_modified(|acked| {
            let newer = seq > *acked;
            if newer {
                *acked = seq;
            }
            newer
        });
    }

    /// Stops capture (if it still runs), stores the offset after the last acknowledged event,
    /// and returns what the run did. Events received but not acknowledged are delivered again
    /// by the next run. The run's error is the stream's last item; `close` returns it only
    /// when the stream could not.
    pub async fn close(self) -> Result<RunSummary> {
        let Self {
            mut events,
            acks,
            shutdown,
            task,
        } = self;
        let _ = shutdown.send(true);
        events.close();
        drop(acks);
        task.await.map_err(|e| Error::Task(e.to_string()))?
    }
}

impl Stream for ChangeStream {
    type Item = Result<ChangeEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}
