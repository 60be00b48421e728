//! Reading the store ahead of the writes: a task reads the next batches into a small bounded
//! channel while the runner writes the current one, and waits when the channel is full
//! (backpressure: at most `read.concurrency` pages and `AHEAD` batches read and not yet
//! taken). While catching up it reads several pages at the same time, each on a task of its
//! own, and hands them over in order (ADR 0009).

use std::collections::VecDeque;
use std::sync::Arc;

use keel_core::{EventStore, Position, RecordedEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::Result;
use crate::config::RunnerConfig;

/// Batches read and waiting, at most, besides the one being prepared and the one being written.
const AHEAD: usize = 2;

/// Batches of events after a position, read by a task of their own; the task stops when this
/// (and every other lane of a [`fan_out`](Batches::fan_out)) is dropped.
pub(crate) struct Batches {
    rx: mpsc::Receiver<Result<Vec<RecordedEvent>>>,
    _task: Arc<Task>,
}

/// A task aborted when dropped.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Batches {
    /// Every event readable now after `after`, read in pages of up to `read_size` events,
    /// `concurrency` pages at the same time when the store can tell where pages end
    /// ([`EventStore::page_ends`]), and handed over in order in batches of up to `batch_size`;
    /// ends once nothing more is readable.
    pub(crate) fn catch_up<S: EventStore>(
        store: Arc<S>,
        after: Position,
        reads: Reads,
        batch_size: usize,
    ) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        let task = tokio::spawn(async move {
            if let Err(error) = read_pages(store, after, reads, batch_size, &tx).await {
                let _ = tx.send(Err(error)).await;
            }
        });
        Self {
            rx,
            _task: Arc::new(Task(task)),
        }
    }

    /// Events after `after` as they are appended, never ending: a batch is handed over once it
    /// holds `batch.size` events or `flush.timeout.ms` passed since its first event.
    pub(crate) fn follow<S: EventStore>(
        store: Arc<S>,
        after: Position,
        config: RunnerConfig,
    ) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        let task = tokio::spawn(async move {
            if let Err(error) = fill(&*store, after, &config, &tx).await {
                let _ = tx.send(Err(error)).await;
            }
        });
        Self {
            rx,
            _task: Arc::new(Task(task)),
        }
    }

    /// The same batches for each of `lanes` readers, each with room for `depth` of them: a
    /// reader may be up to that many batches ahead of the slowest one, which then holds the
    /// reading back. An error goes to the first reader; the others then end.
    pub(crate) fn fan_out(self, lanes: usize, depth: usize) -> Vec<Self> {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..lanes).map(|_| mpsc::channel(depth.max(1))).unzip();
        // Moved in whole: the reading task lives as long as this one.
        let Self {
            mut rx,
            _task: reading,
        } = self;
        let task = tokio::spawn(async move {
            let _reading = reading;
            let all_gone = futures::future::join_all(senders.iter().map(mpsc::Sender::closed));
            tokio::pin!(all_gone);
            loop {
                let next = tokio::select! {
                    _ = &mut all_gone => return,
                    next = rx.recv() => next,
                };
                match next {
                    Some(Ok(batch)) => {
                        // A copy for each reader but the last, which takes the batch itself. A
                        // reader that is gone has stopped its runner: the others go on until
                        // it notices.
                        if let Some((last, rest)) = senders.split_last() {
                            for sender in rest {
                                let _ = sender.send(Ok(batch.clone())).await;
                            }
                            let _ = last.send(Ok(batch)).await;
                        }
                    }
                    Some(Err(error)) => {
                        if let Some(first) = senders.first() {
                            let _ = first.send(Err(error)).await;
                        }
                        return;
                    }
                    None => return,
                }
            }
        });
        let task = Arc::new(Task(task));
        receivers
            .into_iter()
            .map(|rx| Self {
                rx,
                _task: Arc::clone(&task),
            })
            .collect()
    }

    /// The next batch; `None` once a catch-up read everything.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<RecordedEvent>>> {
        self.rx.recv().await.transpose()
    }
}

/// How a catch-up reads the store: pages of `size` events, `concurrency` of them at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reads {
    /// `read.size` (at least the batch size).
    pub(crate) size: usize,
    /// `read.concurrency` (at least 1).
    pub(crate) concurrency: usize,
}

/// Reads every event readable now after `after` and hands it over in batches; returns when
/// nothing more is readable or the receiver is gone.
///
/// Where the store tells where the next pages end, up to `concurrency` ranges are read at the
/// same time (each on a task of its own, so they go on while a page waits to be handed over)
/// and handed over in order; the next ends are asked for once every known range is being
/// read. A store that cannot tell is read page after page with `read_all`.
async fn read_pages<S: EventStore>(
    store: Arc<S>,
    after: Position,
    reads: Reads,
    batch_size: usize,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>>>,
) -> Result<()> {
    let size = reads.size.max(batch_size).max(1);
    let concurrency = reads.concurrency.max(1);
    let Some(first) = store.page_ends(after, size, concurrency).await? else {
        return read_one_by_one(&*store, after, size, batch_size, tx).await;
    };
    let mut ends: VecDeque<Position> = first.into();
    // Where the next range starts: the end of the last one being read.
    let mut from = after;
    let mut ranges: VecDeque<Range> = VecDeque::new();
    let mut exhausted = ends.is_empty();
    loop {
        while ranges.len() < concurrency {
            let Some(end) = ends.pop_front() else { break };
            let (store, start) = (Arc::clone(&store), from);
            ranges.push_back(Range(tokio::spawn(async move {
                store.read_range(start, end).await
            })));
            from = end;
        }
        if ends.is_empty() && !exhausted {
            // Every known range is being read: where do the next ones end?
            match store.page_ends(from, size, concurrency).await? {
                Some(more) if !more.is_empty() => ends.extend(more),
                _ => exhausted = true,
            }
        }
        let Some(mut range) = ranges.pop_front() else {
            return Ok(());
        };
        let page = match (&mut range.0).await {
            Ok(page) => page?,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            // Aborted: only this task drops its ranges.
            Err(_) => return Ok(()),
        };
        if !hand_over(page, batch_size, tx).await {
            return Ok(());
        }
    }
}

/// Reads page after page with `read_all` and hands them over in batches.
async fn read_one_by_one<S: EventStore>(
    store: &S,
    after: Position,
    size: usize,
    batch_size: usize,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>>>,
) -> Result<()> {
    let mut cursor = after;
    loop {
        let page = store.read_all(cursor, size).await?;
        let Some(last) = page.last().map(|e| e.position) else {
            return Ok(());
        };
        cursor = last;
        if !hand_over(page, batch_size, tx).await {
            return Ok(());
        }
    }
}

/// A range being read on a task of its own; the read stops when this is dropped.
struct Range(JoinHandle<keel_core::Result<Vec<RecordedEvent>>>);

impl Drop for Range {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hands `page` over in batches of up to `batch_size`; false when the receiver is gone.
async fn hand_over(
    page: Vec<RecordedEvent>,
    batch_size: usize,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>>>,
) -> bool {
    let mut events = page.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<RecordedEvent> = events.by_ref().take(batch_size).collect();
        if tx.send(Ok(batch)).await.is_err() {
            return false;
        }
    }
    true
}

/// Reads live appends into batches and hands each over when full or due; returns when the
/// receiver is gone.
async fn fill<S: EventStore>(
    store: &S,
    after: Position,
    config: &RunnerConfig,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>>>,
) -> Result<()> {
    let mut cursor = after;
    let mut buffer: Vec<RecordedEvent> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let due = deadline.is_some_and(|d| Instant::now() >= d);
        if buffer.len() >= config.batch_size || (due && !buffer.is_empty()) {
            if tx.send(Ok(std::mem::take(&mut buffer))).await.is_err() {
                return Ok(());
            }
            deadline = None;
            continue;
        }
        let room = config.batch_size - buffer.len();
        let events = store.read_all(cursor, room).await?;
        if let Some(last) = events.last().map(|e| e.position) {
            cursor = last;
            deadline.get_or_insert_with(|| Instant::now() + config.flush_timeout());
            buffer.extend(events);
            continue;
        }
        let wait = deadline.map_or(config.poll_interval(), |d| {
            d.saturating_duration_since(Instant::now())
        });
        store.wait_for_new(cursor, wait).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use keel_core::store::{AppendOutcome, StreamQuery};
    use keel_core::store::{EventStore, MemoryStore};
    use keel_core::{ExpectedVersion, NewEvent, Position, RecordedEvent};

    use super::{Batches, Reads};

    /// A store that tells where pages end (from `read_all`) and answers range reads after a
    /// delay that shrinks with each call, so later ranges finish before earlier ones.
    struct Paged {
        inner: MemoryStore,
        ranges: AtomicUsize,
    }

    #[async_trait]
    impl EventStore for Paged {
        async fn append(
            &self,
            stream_id: &str,
            expected: ExpectedVersion,
            events: Vec<NewEvent>,
        ) -> keel_core::Result<AppendOutcome> {
            self.inner.append(stream_id, expected, events).await
        }
        async fn read_stream(
            &self,
            stream_id: &str,
            query: StreamQuery,
        ) -> keel_core::Result<Vec<RecordedEvent>> {
            self.inner.read_stream(stream_id, query).await
        }
        async fn read_all(
            &self,
            after: Position,
            limit: usize,
        ) -> keel_core::Result<Vec<RecordedEvent>> {
            self.inner.read_all(after, limit).await
        }
        async fn page_ends(
            &self,
            after: Position,
            page: usize,
            pages: usize,
        ) -> keel_core::Result<Option<Vec<Position>>> {
            let events = self.inner.read_all(after, page * pages).await?;
            let last = events.len();
            Ok(Some(
                events
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (i + 1) % page == 0 || i + 1 == last)
                    .map(|(_, e)| e.position)
                    .collect(),
            ))
        }
        async fn read_range(
            &self,
            after: Position,
            through: Position,
        ) -> keel_core::Result<Vec<RecordedEvent>> {
            let call = self.ranges.fetch_add(1, Ordering::SeqCst);
            let pause = 40u64.saturating_sub(7 * (call as u64 % 6));
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let events = self.inner.read_all(after, usize::MAX).await?;
            Ok(events
                .into_iter()
                .take_while(|e| e.position <= through)
                .collect())
        }
        async fn contains_event(&self, event_id: uuid::Uuid) -> keel_core::Result<bool> {
            self.inner.contains_event(event_id).await
        }
        async fn stream_version(&self, stream_id: &str) -> keel_core::Result<u64> {
            self.inner.stream_version(stream_id).await
        }
        async fn head(&self) -> keel_core::Result<Position> {
            self.inner.head().await
        }
    }

    fn noted(i: usize) -> NewEvent {
        NewEvent {
            event_id: uuid::Uuid::new_v4(),
            event_type: "Noted".into(),
            schema_version: 1,
            payload: serde_json::json!({ "i": i }),
            metadata: keel_core::event::Metadata::default(),
            occurred_at: chrono::Utc::now(),
        }
    }

    async fn store_of(events: usize) -> Arc<Paged> {
        let store = Paged {
            inner: MemoryStore::new(),
            ranges: AtomicUsize::new(0),
        };
        for i in 0..events {
            let event = noted(i);
            store
                .append(&format!("s-{}", i % 7), ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
        Arc::new(store)
    }

    async fn drain(mut batches: Batches) -> Vec<Vec<RecordedEvent>> {
        let mut out = Vec::new();
        while let Some(batch) = batches.next().await.unwrap() {
            out.push(batch);
        }
        out
    }

    #[tokio::test]
    async fn pages_read_at_the_same_time_come_in_order_each_event_once() {
        let store = store_of(103).await;
        let expected: Vec<Position> = store
            .read_all(Position::START, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        for (size, concurrency, batch) in [(10, 3, 4), (7, 4, 7), (5, 1, 2), (50, 8, 50)] {
            store.ranges.store(0, Ordering::SeqCst);
            let reads = Reads { size, concurrency };
            let batches = drain(Batches::catch_up(
                Arc::clone(&store),
                Position::START,
                reads,
                batch,
            ))
            .await;
            let seen: Vec<Position> = batches.iter().flatten().map(|e| e.position).collect();
            assert_eq!(seen, expected, "size {size}, concurrency {concurrency}");
            assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch));
            assert_eq!(
                store.ranges.load(Ordering::SeqCst),
                expected.len().div_ceil(size),
                "one range read per page"
            );
        }
        // From a position in the middle: only what follows it.
        let after = expected[41];
        let batches = drain(Batches::catch_up(
            Arc::clone(&store),
            after,
            Reads {
                size: 9,
                concurrency: 3,
            },
            4,
        ))
        .await;
        let seen: Vec<Position> = batches.iter().flatten().map(|e| e.position).collect();
        assert_eq!(seen, expected[42..]);
    }

    #[tokio::test]
    async fn a_store_that_cannot_tell_page_ends_is_read_page_after_page() {
        let store = Arc::new(MemoryStore::new());
        for i in 0..23 {
            let event = noted(i);
            store
                .append("s", ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
        let batches = drain(Batches::catch_up(
            Arc::clone(&store),
            Position::START,
            Reads {
                size: 5,
                concurrency: 4,
            },
            2,
        ))
        .await;
        let versions: Vec<u64> = batches.iter().flatten().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=23).collect::<Vec<u64>>());
    }
}
