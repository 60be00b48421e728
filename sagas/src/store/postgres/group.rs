//! Group commit for the saga store: concurrent operations (loads, inbox lookups, inserts,
//! updates, inbox records) queue up; a few workers each take what is queued and run it as one
//! multi-row read per kind and one write transaction. A caller waits until its own write
//! committed, so "a transition is stored before its command is sent" holds for every caller,
//! while PostgreSQL round trips and commits are shared by everything that arrived meanwhile.
//! Under no load a group is one operation, and nothing waits for a timer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::statements::{self, InboxRow, InstanceRow, Key};
use crate::instance::SagaInstance;
use crate::message::ReplyOutcome;
use crate::{Error, Result};

/// Workers running groups at the same time, each on a connection of its own.
const WORKERS: usize = 4;
/// The most operations one group takes.
const MAX_GROUP: usize = 256;
/// Operations queued before callers wait for room.
const QUEUE: usize = 8192;

type Answer<T> = oneshot::Sender<Result<T>>;

enum Op {
    Load(Key, Answer<Option<SagaInstance>>),
    Recorded(Key, Answer<Option<ReplyOutcome>>),
    Insert(InstanceRow, Answer<bool>),
    Update(InstanceRow, Answer<bool>),
    Record(InboxRow, Answer<bool>),
}

/// The queue in front of the workers; clones share it. The workers stop when the last clone is
/// dropped.
#[derive(Debug, Clone)]
pub(super) struct Group {
    queue: mpsc::Sender<Op>,
}

fn stopped() -> Error {
    Error::Store {
        reason: "the saga store's workers stopped (is the runtime shutting down?)".into(),
        retryable: true,
    }
}

impl Group {
    /// Starts the workers on `pool` (inside a Tokio runtime).
    pub(super) fn start(pool: PgPool) -> Self {
        let (queue, received) = mpsc::channel(QUEUE);
        let received = Arc::new(Mutex::new(received));
        for _ in 0..WORKERS {
            tokio::spawn(work(pool.clone(), Arc::clone(&received)));
        }
        Self { queue }
    }

    async fn ask<T>(&self, op: impl FnOnce(Answer<T>) -> Op) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        self.queue.send(op(answer)).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// The stored instance.
    pub(super) async fn load(&self, key: Key) -> Result<Option<SagaInstance>> {
        self.ask(|answer| Op::Load(key, answer)).await
    }

    /// The recorded outcome of an inbox key.
    pub(super) async fn recorded(&self, key: Key) -> Result<Option<ReplyOutcome>> {
        self.ask(|answer| Op::Recorded(key, answer)).await
    }

    /// Inserts an instance; `false` when one with its key exists.
    pub(super) async fn insert(&self, row: InstanceRow) -> Result<bool> {
        self.ask(|answer| Op::Insert(row, answer)).await
    }

    /// Updates an instance at its expected version; `false` when it is not at that version.
    pub(super) async fn update(&self, row: InstanceRow) -> Result<bool> {
        self.ask(|answer| Op::Update(row, answer)).await
    }

    /// Records an inbox outcome; `false` when one was recorded already.
    pub(super) async fn record(&self, row: InboxRow) -> Result<bool> {
        self.ask(|answer| Op::Record(row, answer)).await
    }
}

/// One worker: takes what is queued (up to [`MAX_GROUP`]) and runs it on its own connection,
/// until the queue closes.
async fn work(pool: PgPool, received: Arc<Mutex<mpsc::Receiver<Op>>>) {
    let mut conn: Option<PgConnection> = None;
    loop {
        let ops = {
            let mut received = received.lock().await;
            let Some(first) = received.recv().await else {
                break;
            };
            let mut ops = vec![first];
            while ops.len() < MAX_GROUP {
                match received.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            ops
        };
        let group = Sorted::of(ops);
        let connection = match conn {
            Some(ref mut connection) => connection,
            None => match dedicated(&pool).await {
                Ok(connection) => conn.insert(connection),
                Err(error) => {
                    group.fail(&error);
                    continue;
                }
            },
        };
        if run(connection, group).await == Health::Broken {
            conn = None;
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

/// A connection of the pool's, detached from it (the pool may open another in its place)
/// and set to plan the grouped statements once: their arrays make a plan per call pointless,
/// and planning would cost as much as running them.
///
/// Every grouped statement finds its rows by primary key, one probe per array element. A plan
/// made once, while the tables were still small (a new deployment, a benchmark's first
/// second), would otherwise keep a sequential scan and a hash join for the life of the
/// connection: each group then read the whole table, and a saga cost PostgreSQL six times the
/// CPU (seen in the sagas benchmark as runs at a quarter of the usual rate). With hash and
/// merge joins and sequential scans off on these connections only, the plan is the index
/// nested loop whatever the statistics said when it was made.
async fn dedicated(pool: &PgPool) -> Result<PgConnection> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::query(
        "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), \
         set_config('enable_hashjoin', 'off', false), \
         set_config('enable_mergejoin', 'off', false), \
         set_config('enable_seqscan', 'off', false)",
    )
    .execute(&mut conn)
    .await?;
    Ok(conn)
}

/// Whether a worker's connection may be used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Fine,
    Broken,
}

/// A statement's error that may have broken the connection (anything but the server refusing
/// the statement): the worker opens a new one for its next group.
fn health(error: &Error) -> Health {
    match error {
        // The server ended the session (shut down, terminated it) or lost the connection.
        Error::Database(sqlx::Error::Database(e))
            if e.code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
        {
            Health::Broken
        }
        Error::Database(sqlx::Error::Database(_)) => Health::Fine,
        Error::Database(_) => Health::Broken,
        _ => Health::Fine,
    }
}

/// A group sorted by kind.
#[derive(Default)]
struct Sorted {
    loads: Vec<(Key, Answer<Option<SagaInstance>>)>,
    recorded: Vec<(Key, Answer<Option<ReplyOutcome>>)>,
    inserts: Vec<(InstanceRow, Answer<bool>)>,
    updates: Vec<(InstanceRow, Answer<bool>)>,
    records: Vec<(InboxRow, Answer<bool>)>,
}

impl Sorted {
    fn of(ops: Vec<Op>) -> Self {
        let mut group = Self::default();
        for op in ops {
            match op {
                Op::Load(key, answer) => group.loads.push((key, answer)),
                Op::Recorded(key, answer) => group.recorded.push((key, answer)),
                Op::Insert(row, answer) => group.inserts.push((row, answer)),
                Op::Update(row, answer) => group.updates.push((row, answer)),
                Op::Record(row, answer) => group.records.push((row, answer)),
            }
        }
        group
    }

    /// Answers every operation with `error`.
    fn fail(mut self, error: &Error) {
        fail(
            std::mem::take(&mut self.loads).into_iter().map(|(_, a)| a),
            error,
        );
        fail(
            std::mem::take(&mut self.recorded)
                .into_iter()
                .map(|(_, a)| a),
            error,
        );
        self.fail_writes(error);
    }

    fn fail_writes(self, error: &Error) {
        fail(self.inserts.into_iter().map(|(_, a)| a), error);
        fail(self.updates.into_iter().map(|(_, a)| a), error);
        fail(self.records.into_iter().map(|(_, a)| a), error);
    }

    fn writes(&self) -> usize {
        self.inserts.len() + self.updates.len() + self.records.len()
    }
}

fn fail<T>(answers: impl IntoIterator<Item = Answer<T>>, error: &Error) {
    for answer in answers {
        let _ = answer.send(Err(Error::shared(error)));
    }
}

async fn run(conn: &mut PgConnection, mut group: Sorted) -> Health {
    let mut state = Health::Fine;
    let loads = std::mem::take(&mut group.loads);
    if !loads.is_empty() {
        let keys: Vec<&Key> = loads.iter().map(|(k, _)| k).collect();
        match statements::load_instances(conn, &keys).await {
            Ok(found) => {
                for (key, answer) in loads {
                    let _ = answer.send(Ok(found.get(&key).cloned()));
                }
            }
            Err(error) => {
                state = health(&error);
                fail(loads.into_iter().map(|(_, a)| a), &error);
            }
        }
    }
    let recorded = std::mem::take(&mut group.recorded);
    if !recorded.is_empty() && state == Health::Fine {
        let keys: Vec<&Key> = recorded.iter().map(|(k, _)| k).collect();
        match statements::recorded_outcomes(conn, &keys).await {
            Ok(found) => {
                for (key, answer) in recorded {
                    let _ = answer.send(Ok(found.get(&key).cloned()));
                }
            }
            Err(error) => {
                state = health(&error);
                fail(recorded.into_iter().map(|(_, a)| a), &error);
            }
        }
    } else if !recorded.is_empty() {
        fail(recorded.into_iter().map(|(_, a)| a), &broken());
    }
    if group.writes() == 0 {
        return state;
    }
    if state == Health::Broken {
        group.fail_writes(&broken());
        return state;
    }
    write(conn, group).await
}

fn broken() -> Error {
    Error::Store {
        reason: "the saga store's connection broke; try again".into(),
        retryable: true,
    }
}

/// Why a write group failed.
enum Failure {
    /// A statement failed: nothing was committed.
    Statement(Error),
    /// The commit failed: it may or may not have taken effect.
    Commit(Error),
}

/// Runs the group's writes in one transaction and answers each; when a statement fails and
/// the group holds more than one write, each write runs again alone, so that one bad write
/// does not fail the others.
async fn write(conn: &mut PgConnection, group: Sorted) -> Health {
    let error = match write_together(conn, &group).await {
        Ok((inserted, updated, recorded)) => {
            answer(group.inserts, inserted);
            answer(group.updates, updated);
            answer(group.records, recorded);
            return Health::Fine;
        }
        Err(Failure::Statement(error)) if group.writes() > 1 && health(&error) == Health::Fine => {
            error
        }
        Err(Failure::Statement(error) | Failure::Commit(error)) => {
            let state = health(&error);
            group.fail_writes(&error);
            return state;
        }
    };
    tracing::warn!(%error, writes = group.writes(), "a grouped saga store write failed; writing each alone");
    let mut state = Health::Fine;
    let mut settle = |done: Result<HashSet<Key>>, answer: Answer<bool>| {
        if let Err(error) = &done {
            state = health(error);
        }
        let _ = answer.send(done.map(|keys| !keys.is_empty()));
    };
    for (row, answer) in group.inserts {
        settle(statements::insert_instances(conn, &[&row]).await, answer);
    }
    for (row, answer) in group.updates {
        settle(statements::update_instances(conn, &[&row]).await, answer);
    }
    for (row, answer) in group.records {
        settle(statements::insert_inbox(conn, &[&row]).await, answer);
    }
    state
}

fn answer<R>(answers: Vec<(R, Answer<bool>)>, done: Vec<bool>) {
    for ((_, answer), done) in answers.into_iter().zip(done) {
        let _ = answer.send(Ok(done));
    }
}

/// Positions split into rounds of distinct keys (round `r` holds the `r`-th occurrence of each
/// key), each round sorted by key so that concurrent groups lock rows in the same order.
fn rounds(keys: &[Key]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&Key, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (at, key) in keys.iter().enumerate() {
        let round = seen.entry(key).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(at);
        *round += 1;
    }
    for round in &mut rounds {
        round.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    }
    rounds
}

/// Which rows of each kind took effect, all at once: one statement when each key occurs once
/// (the usual case), else one statement per kind and round in one transaction.
async fn write_together(
    conn: &mut PgConnection,
    group: &Sorted,
) -> Result<(Vec<bool>, Vec<bool>, Vec<bool>), Failure> {
    let insert_keys: Vec<Key> = group.inserts.iter().map(|(r, _)| r.key()).collect();
    let update_keys: Vec<Key> = group.updates.iter().map(|(r, _)| r.key()).collect();
    let record_keys: Vec<Key> = group.records.iter().map(|(r, _)| r.key()).collect();
    let insert_rounds = rounds(&insert_keys);
    let update_rounds = rounds(&update_keys);
    let record_rounds = rounds(&record_keys);
    let single = insert_rounds.len() <= 1
        && update_rounds.len() <= 1
        && record_rounds.len() <= 1
        && (insert_keys.is_empty() || {
            let inserted: HashSet<&Key> = insert_keys.iter().collect();
            !update_keys.iter().any(|k| inserted.contains(k))
        });
    if single {
        let inserts: Vec<&InstanceRow> = group.inserts.iter().map(|(r, _)| r).collect();
        let updates: Vec<&InstanceRow> = group.updates.iter().map(|(r, _)| r).collect();
        let records: Vec<&InboxRow> = group.records.iter().map(|(r, _)| r).collect();
        let (inserted, updated, recorded) =
            match statements::write_all(conn, &inserts, &updates, &records).await {
                Ok(written) => written,
                // The server refused the statement: nothing of it took effect.
                Err(error @ Error::Database(sqlx::Error::Database(_))) => {
                    return Err(Failure::Statement(error));
                }
                // The connection broke: it may or may not have committed.
                Err(error) => return Err(Failure::Commit(error)),
            };
        return Ok((
            insert_keys.iter().map(|k| inserted.contains(k)).collect(),
            update_keys.iter().map(|k| updated.contains(k)).collect(),
            record_keys.iter().map(|k| recorded.contains(k)).collect(),
        ));
    }

    let statement = |e: Error| Failure::Statement(e);
    let mut tx = conn.begin().await.map_err(|e| statement(e.into()))?;
    let mut inserted = vec![false; insert_keys.len()];
    for round in insert_rounds {
        let rows: Vec<&InstanceRow> = round.iter().map(|&i| &group.inserts[i].0).collect();
        let done = statements::insert_instances(&mut tx, &rows)
            .await
            .map_err(statement)?;
        for i in round {
            inserted[i] = done.contains(&insert_keys[i]);
        }
    }
    let mut updated = vec![false; update_keys.len()];
    for round in update_rounds {
        let rows: Vec<&InstanceRow> = round.iter().map(|&i| &group.updates[i].0).collect();
        let done = statements::update_instances(&mut tx, &rows)
            .await
            .map_err(statement)?;
        for i in round {
            updated[i] = done.contains(&update_keys[i]);
        }
    }
    let mut recorded = vec![false; record_keys.len()];
    for round in record_rounds {
        let rows: Vec<&InboxRow> = round.iter().map(|&i| &group.records[i].0).collect();
        let done = statements::insert_inbox(&mut tx, &rows)
            .await
            .map_err(statement)?;
        for i in round {
            recorded[i] = done.contains(&record_keys[i]);
        }
    }
    tx.commit().await.map_err(|e| Failure::Commit(e.into()))?;
    Ok((inserted, updated, recorded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Key {
        ("t".to_owned(), id.to_owned())
    }

    #[test]
    fn distinct_keys_make_one_round_sorted_by_key() {
        assert_eq!(rounds(&[key("b"), key("a"), key("c")]), vec![vec![1, 0, 2]]);
    }

    #[test]
    fn a_repeated_key_goes_to_a_later_round() {
        let keys = [key("a"), key("b"), key("a"), key("a")];
        assert_eq!(rounds(&keys), vec![vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn no_keys_no_rounds() {
        assert!(rounds(&[]).is_empty());
    }
}
