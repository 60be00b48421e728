//! The repository: loads an aggregate (from its newest usable snapshot), executes a command,
//! appends the events; gives the state as of a time, and replays what came after.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::{Metadata, NewEvent, RecordedEvent, Upcasters};
use crate::store::{ExpectedVersion, Snapshot, Store, StreamQuery};
use crate::{Aggregate, Error, Result};

/// When to snapshot an aggregate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotPolicy {
    every: Option<u64>,
}

impl SnapshotPolicy {
    /// Never take snapshots. Loads still start from a snapshot stored under another policy
    /// (the policy is per repository, as Axon's snapshot trigger is; loading uses what is
    /// stored): without one they replay the whole stream.
    pub const fn never() -> Self {
        Self { every: None }
    }

    /// Snapshot each time the stream's version crosses a multiple of `n` (n ≥ 1).
    pub const fn every(n: u64) -> Self {
        Self {
            every: if n == 0 { None } else { Some(n) },
        }
    }

    /// Whether going from version `before` to `after` crosses a snapshot point.
    pub fn due(&self, before: u64, after: u64) -> bool {
        self.every.is_some_and(|n| before / n != after / n)
    }

    /// Whether snapshots are taken at all.
    pub fn enabled(&self) -> bool {
        self.every.is_some()
    }
}

/// A command's outcome when it did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command (a business rule).
    #[error("rejected: {0}")]
    Rejected(#[source] E),
    /// Another writer appended to the stream between load and append; load and try again.
    #[error(
        "concurrency conflict on stream `{stream_id}`: expected version {expected}, found {actual}"
    )]
    Conflict {
        /// The stream.
        stream_id: String,
        /// The version the command was decided on.
        expected: u64,
        /// The version found at append.
        actual: u64,
    },
    /// The store failed, or stored data is bad.
    #[error(transparent)]
    Store(Error),
}

impl<E: std::error::Error + 'static> From<Error> for CommandError<E> {
    fn from(error: Error) -> Self {
        match error {
            Error::Conflict {
                stream_id,
                expected,
                actual,
            } => CommandError::Conflict {
                stream_id,
                expected: match expected {
                    ExpectedVersion::Exact(v) => v,
                    ExpectedVersion::NoStream | ExpectedVersion::Any => 0,
                },
                actual,
            },
            other => CommandError::Store(other),
        }
    }
}

/// An aggregate's state with where it stands in its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The version of the last event folded in (0 for a new aggregate).
    pub version: u64,
    /// When that event was recorded.
    pub last_recorded_at: Option<DateTime<Utc>>,
    /// The version of the snapshot the load started from, if any.
    pub snapshot_version: Option<u64>,
    /// How many events were read from the store to get here.
    pub events_read: usize,
}

/// What an executed command did.
#[derive(Debug, Clone)]
pub struct Executed<A> {
    /// The state after the command.
    pub state: A,
    /// The stream's version after the command.
    pub version: u64,
    /// The events appended (empty when the command was a re-delivery already stored).
    pub events: Vec<RecordedEvent>,
    /// True when the command's deterministic event ids were already stored: nothing was done.
    pub duplicate: bool,
}

/// Loads, executes and appends for one aggregate type over a store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use keel_core::doc::{Counter, CounterCommand};
/// use keel_core::store::MemoryStore;
/// use keel_core::{Metadata, Repository, SnapshotPolicy};
///
/// let repo = Repository::<Counter, _>::new(MemoryStore::new()).with_snapshots(SnapshotPolicy::every(100));
/// repo.execute("counter-1", CounterCommand::Add(2), Metadata::default()).await.unwrap();
/// repo.execute("counter-1", CounterCommand::Add(3), Metadata::default()).await.unwrap();
/// assert_eq!(repo.load("counter-1").await.unwrap().state.value, 5);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Repository<A, S> {
    store: S,
    snapshots: SnapshotPolicy,
    upcasters: Upcasters,
    aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate, S: Store> Repository<A, S> {
    /// A repository over `store`, without snapshots or upcasters.
    pub fn new(store: S) -> Self {
        Self {
            store,
            snapshots: SnapshotPolicy::never(),
            upcasters: Upcasters::new(),
            aggregate: PhantomData,
        }
    }

    /// Sets the snapshot policy of this aggregate type.
    #[must_use]
    pub fn with_snapshots(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshots = policy;
        self
    }

    /// Sets the upcasters applied to this aggregate's events on read.
    #[must_use]
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The current state: the newest snapshot of this aggregate's snapshot version, plus the
    /// events after it. A snapshot of another version is ignored; the state is rebuilt by
    /// replay and, when snapshots are on, snapshotted again at the current version.
    #[tracing::instrument(name = "keel.load", skip(self), fields(aggregate = A::TYPE))]
    pub async fn load(&self, stream_id: &str) -> Result<Loaded<A>> {
        let stored = self.store.load_snapshot(stream_id, None).await?;
        let stale = stored.as_ref().is_some_and(|s| !self.usable(s));
        let loaded = self
            .fold(stream_id, stored.filter(|s| self.usable(s)), None)
            .await?;
        if stale && self.snapshots.enabled() && loaded.version > 0 {
            self.save_snapshot(stream_id, &loaded).await?;
        }
        Ok(loaded)
    }

    /// The state from the events recorded at or before `at`, starting from the newest usable
    /// snapshot whose last event was recorded at or before `at`.
    #[tracing::instrument(name = "keel.load_at", skip(self), fields(aggregate = A::TYPE))]
    pub async fn load_at(&self, stream_id: &str, at: DateTime<Utc>) -> Result<Loaded<A>> {
        let stored = self.store.load_snapshot(stream_id, Some(at)).await?;
        self.fold(stream_id, stored.filter(|s| self.usable(s)), Some(at))
            .await
    }

    /// For audit: every event recorded after `after`, each with the state it produced.
    #[tracing::instrument(name = "keel.replay", skip(self), fields(aggregate = A::TYPE))]
    pub async fn replay_from(
        &self,
        stream_id: &str,
        after: DateTime<Utc>,
    ) -> Result<Vec<(RecordedEvent, A)>>
    where
        A: Clone,
    {
        let mut loaded = self.load_at(stream_id, after).await?;
        let events = self
            .store
            .read_stream(stream_id, StreamQuery::from_version(loaded.version + 1))
            .await?;
        let mut steps = Vec::with_capacity(events.len());
        for recorded in events {
            let event: A::Event = self.upcasters.decode(&recorded)?;
            loaded.state.apply(&event);
            steps.push((recorded, loaded.state.clone()));
        }
        Ok(steps)
    }

    /// Loads the aggregate, lets it decide on `command`, appends the events it returns (with
    /// `metadata`, expecting the version it decided on) and snapshots when the policy says so.
    ///
    /// When `metadata.source` is set (a CDC-derived command), event ids are derived from the
    /// source position, and a command whose first event id is already stored is not handled
    /// again: the outcome says `duplicate`.
    #[tracing::instrument(name = "keel.execute", skip(self, command, metadata), fields(aggregate = A::TYPE))]
    pub async fn execute(
        &self,
        stream_id: &str,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        let source = metadata.source.clone();
        let ids = |i: usize| -> Uuid {
            match &source {
                Some(source) => source.event_id(u32::try_from(i).unwrap_or(u32::MAX)),
                None => Uuid::new_v4(),
            }
        };
        if metadata.source.is_some() && self.store.contains_event(ids(0)).await? {
            let loaded = self.load(stream_id).await?;
            return Ok(Executed {
                state: loaded.state,
                version: loaded.version,
                events: vec![],
                duplicate: true,
            });
        }

        let mut loaded = self.load(stream_id).await?;
        let decided = loaded
            .state
            .handle(command)
            .map_err(CommandError::Rejected)?;
        let metadata = crate::telemetry::with_current_context(metadata);
        let mut new_events = Vec::with_capacity(decided.len());
        for (i, event) in decided.iter().enumerate() {
            new_events.push(
                NewEvent::from_domain(event)?
                    .with_id(ids(i))
                    .with_metadata(metadata.clone()),
            );
        }
        let before = loaded.version;
        let outcome = self
            .store
            .append(stream_id, ExpectedVersion::Exact(before), new_events)
            .await?;
        for event in &decided {
            loaded.state.apply(event);
        }
        loaded.version = outcome.stream_version;
        loaded.last_recorded_at = outcome
            .appended
            .last()
            .map(|e| e.recorded_at)
            .or(loaded.last_recorded_at);
        if self.snapshots.due(before, loaded.version) {
            self.save_snapshot(stream_id, &loaded).await?;
        }
        Ok(Executed {
            state: loaded.state,
            version: loaded.version,
            events: outcome.appended,
            duplicate: false,
        })
    }

    fn usable(&self, snapshot: &Snapshot) -> bool {
        snapshot.aggregate_type == A::TYPE && snapshot.schema_version == A::SNAPSHOT_VERSION
    }

    async fn fold(
        &self,
        stream_id: &str,
        snapshot: Option<Snapshot>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Loaded<A>> {
        let mut loaded = match snapshot {
            Some(s) => Loaded {
                state: serde_json::from_value(s.state).map_err(|source| {
                    Error::CorruptSnapshot {
                        stream_id: stream_id.to_owned(),
                        stream_version: s.stream_version,
                        source,
                    }
                })?,
                version: s.stream_version,
                last_recorded_at: Some(s.last_recorded_at),
                snapshot_version: Some(s.stream_version),
                events_read: 0,
            },
            None => Loaded {
                state: A::default(),
                version: 0,
                last_recorded_at: None,
                snapshot_version: None,
                events_read: 0,
            },
        };
        let mut query = StreamQuery::from_version(loaded.version + 1);
        query.recorded_until = until;
        let events = self.store.read_stream(stream_id, query).await?;
        loaded.events_read = events.len();
        for recorded in &events {
            let event: A::Event = self.upcasters.decode(recorded)?;
            loaded.state.apply(&event);
            loaded.version = recorded.stream_version;
            loaded.last_recorded_at = Some(recorded.recorded_at);
        }
        Ok(loaded)
    }

    async fn save_snapshot(&self, stream_id: &str, loaded: &Loaded<A>) -> Result<()> {
        let Some(last_recorded_at) = loaded.last_recorded_at else {
            return Ok(());
        };
        let state = serde_json::to_value(&loaded.state).map_err(|source| Error::Serialize {
            what: format!("snapshot of `{stream_id}`"),
            source,
        })?;
        self.store
            .save_snapshot(Snapshot {
                stream_id: stream_id.to_owned(),
                aggregate_type: A::TYPE.to_owned(),
                stream_version: loaded.version,
                schema_version: A::SNAPSHOT_VERSION,
                last_recorded_at,
                state,
            })
            .await
    }
}
