//! The binlog read on a task of its own: packets framed, events parsed and their checksums
//! computed there, handed to the capture loop in batches. The two then share the work on two
//! cores; reading was a quarter of the loop's time on small transactions
//! (`make bench BENCH=capture`, ADR 0047).

use futures::{FutureExt, StreamExt};
use mysql_async::BinlogStream;
use mysql_common::binlog::events::Event;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::checksum;

/// Events per batch, at most.
const BATCH: usize = 1024;
/// Bytes of events per batch, about (a batch ends with the event that crosses it).
const BATCH_BYTES: usize = 1 << 20;
/// Batches read ahead of the capture loop, at most: some 16 MiB of large events, or a few
/// thousand small transactions (about 20 ms of the loop's work, longer than a time slice
/// of the scheduler when the reading task is not running).
const AHEAD: usize = 16;

/// An event as read, with whether its checksum matched (a mismatch is reported by the capture
/// loop, which knows the binlog file).
#[derive(Debug)]
pub struct ReadEvent {
    /// The event.
    pub event: Event,
    /// False when its CRC32 does not match ([`checksum::verify`] says why).
    pub checksum_ok: bool,
}

/// The receiving end: events in binlog order, then the stream's error or end.
///
/// Dropping it stops the reading task, which then closes the connection in the background;
/// [`close`](Self::close) waits for that.
#[derive(Debug)]
pub struct ReadAhead {
    rx: mpsc::Receiver<Vec<mysql_async::Result<ReadEvent>>>,
    batch: std::vec::IntoIter<mysql_async::Result<ReadEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    /// Reads `stream` on a task of its own. Must be called within a Tokio runtime.
    pub fn spawn(stream: BinlogStream) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        let task = tokio::spawn(read(stream, tx));
        Self {
            rx,
            batch: Vec::new().into_iter(),
            task,
        }
    }

    /// Stops reading and closes the connection, so that a new one with the same server id is
    /// not kept waiting while the server ends the old dump thread.
    pub async fn close(self) {
        let Self { rx, task, .. } = self;
        drop(rx);
        // The task only reads and closes; a panic in it was the stream's and is gone with it.
        let _ = task.await;
    }

    /// The next event if one was read already: `Some(None)` once the stream ended, `None`
    /// when there is nothing yet.
    pub fn ready(&mut self) -> Option<Option<mysql_async::Result<ReadEvent>>> {
        if let Some(item) = self.batch.next() {
            return Some(Some(item));
        }
        match self.rx.try_recv() {
            Ok(batch) => {
                self.batch = batch.into_iter();
                self.batch.next().map(Some)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(None),
        }
    }

    /// The next event, waiting for it; `None` once the stream ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<mysql_async::Result<ReadEvent>> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            self.batch = self.rx.recv().await?.into_iter();
        }
    }
}

async fn read(mut stream: BinlogStream, tx: mpsc::Sender<Vec<mysql_async::Result<ReadEvent>>>) {
    loop {
        let first = tokio::select! {
            first = stream.next() => first,
            () = tx.closed() => break,
        };
        let Some(first) = first else {
            // The server ended the stream: the channel's end says so.
            return;
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = 0;
        let mut ended = first.is_err();
        batch.push(first.map(|e| checked(e, &mut bytes)));
        while !ended && batch.len() < BATCH && bytes < BATCH_BYTES {
            match stream.next().now_or_never() {
                Some(Some(item)) => {
                    ended = item.is_err();
                    batch.push(item.map(|e| checked(e, &mut bytes)));
                }
                Some(None) => ended = true,
                None => break,
            }
        }
        let delivered = tx.send(batch).await.is_ok();
        if ended {
            // After an error or the end, the connection is only dropped.
            return;
        }
        if !delivered {
            break;
        }
    }
    // The capture loop is done with it: best effort, the server notices a closed dump
    // connection late anyway.
    let _ = stream.close().await;
}

fn checked(event: Event, bytes: &mut usize) -> ReadEvent {
    *bytes += event.data().len();
    let checksum_ok = checksum::mismatch(&event).is_none();
    ReadEvent { event, checksum_ok }
}
