//! The multi-row statements behind the grouped operations: each takes many rows as arrays
//! (`UNNEST`) and says which of them took effect, so one round trip serves a whole group.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, Row};

use super::super::row::{decode, encode, instance, to_i64, to_us};
use crate::Result;
use crate::instance::SagaInstance;
use crate::message::ReplyOutcome;

/// A saga instance's or an inbox row's key: (saga type, saga id) or (participant, key).
pub(super) type Key = (String, String);

/// A saga instance as its columns, ready to insert or to update.
#[derive(Debug)]
pub(super) struct InstanceRow {
    pub(super) saga_type: String,
    pub(super) saga_id: String,
    state: &'static str,
    current_step: i32,
    deadline_us: Option<i64>,
    version: i64,
    /// The version an update expects to replace.
    expected: i64,
    body: String,
}

impl InstanceRow {
    pub(super) fn of(i: &SagaInstance) -> Result<Self> {
        Ok(Self {
            saga_type: i.saga_type.clone(),
            saga_id: i.saga_id.clone(),
            state: i.state.as_str(),
            current_step: i32::try_from(i.current_step).unwrap_or(i32::MAX),
            deadline_us: i.deadline.map(to_us),
            version: to_i64(i.version),
            expected: to_i64(i.version.saturating_sub(1)),
            body: encode("a saga instance", i)?,
        })
    }

    pub(super) fn key(&self) -> Key {
        (self.saga_type.clone(), self.saga_id.clone())
    }

    pub(super) fn expected(&self) -> u64 {
        u64::try_from(self.expected).unwrap_or(0)
    }
}

/// A participant's inbox row.
#[derive(Debug)]
pub(super) struct InboxRow {
    pub(super) participant: String,
    pub(super) key: String,
    pub(super) outcome: String,
}

impl InboxRow {
    pub(super) fn key(&self) -> Key {
        (self.participant.clone(), self.key.clone())
    }
}

/// The instance columns as arrays, in `rows`' order.
struct Columns {
    types: Vec<String>,
    ids: Vec<String>,
    states: Vec<&'static str>,
    steps: Vec<i32>,
    deadlines: Vec<Option<i64>>,
    versions: Vec<i64>,
    expected: Vec<i64>,
    bodies: Vec<String>,
}

fn columns(rows: &[&InstanceRow]) -> Columns {
    Columns {
        types: rows.iter().map(|r| r.saga_type.clone()).collect(),
        ids: rows.iter().map(|r| r.saga_id.clone()).collect(),
        states: rows.iter().map(|r| r.state).collect(),
        steps: rows.iter().map(|r| r.current_step).collect(),
        deadlines: rows.iter().map(|r| r.deadline_us).collect(),
        versions: rows.iter().map(|r| r.version).collect(),
        expected: rows.iter().map(|r| r.expected).collect(),
        bodies: rows.iter().map(|r| r.body.clone()).collect(),
    }
}

fn keys_of(rows: Vec<sqlx::postgres::PgRow>) -> Result<HashSet<Key>> {
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// Inserts the instances that do not exist yet; returns the keys inserted. Keys must be
/// distinct within one call.
pub(super) async fn insert_instances(
    conn: &mut PgConnection,
    rows: &[&InstanceRow],
) -> Result<HashSet<Key>> {
    let c = columns(rows);
    let inserted = sqlx::query(
        "INSERT INTO keel_saga_instances (saga_type, saga_id, state, current_step, deadline_us, \
         version, body) \
         SELECT saga_type, saga_id, state, current_step, deadline_us, version, body::jsonb \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::int8[], \
         $7::text[]) AS v(saga_type, saga_id, state, current_step, deadline_us, version, body) \
         ON CONFLICT DO NOTHING RETURNING saga_type, saga_id",
    )
    .bind(&c.types)
    .bind(&c.ids)
    .bind(&c.states)
    .bind(&c.steps)
    .bind(&c.deadlines)
    .bind(&c.versions)
    .bind(&c.bodies)
    .fetch_all(conn)
    .await?;
    keys_of(inserted)
}

/// Replaces each instance stored at its expected version; returns the keys replaced (the
/// others lost an optimistic-concurrency race). Keys must be distinct within one call.
pub(super) async fn update_instances(
    conn: &mut PgConnection,
    rows: &[&InstanceRow],
) -> Result<HashSet<Key>> {
    let c = columns(rows);
    let updated = sqlx::query(
        "UPDATE keel_saga_instances AS t SET state = v.state, current_step = v.current_step, \
         deadline_us = v.deadline_us, version = v.version, body = v.body::jsonb, \
         updated_at = now() \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::int8[], \
         $7::text[], $8::int8[]) \
         AS v(saga_type, saga_id, state, current_step, deadline_us, version, body, expected) \
         WHERE t.saga_type = v.saga_type AND t.saga_id = v.saga_id AND t.version = v.expected \
         RETURNING t.saga_type, t.saga_id",
    )
    .bind(&c.types)
    .bind(&c.ids)
    .bind(&c.states)
    .bind(&c.steps)
    .bind(&c.deadlines)
    .bind(&c.versions)
    .bind(&c.bodies)
    .bind(&c.expected)
    .fetch_all(conn)
    .await?;
    keys_of(updated)
}

/// What [`write_all`] did: the keys inserted, updated and recorded.
pub(super) type Written = (HashSet<Key>, HashSet<Key>, HashSet<Key>);

/// [`insert_instances`], [`update_instances`] and [`insert_inbox`] as one statement (data-
/// modifying CTEs), so a group of writes of all three kinds costs one round trip and one
/// commit. Its parts see the same snapshot, so no key may be both inserted and updated here;
/// keys must be distinct within each kind.
pub(super) async fn write_all(
    conn: &mut PgConnection,
    inserts: &[&InstanceRow],
    updates: &[&InstanceRow],
    records: &[&InboxRow],
) -> Result<Written> {
    let i = columns(inserts);
    let u = columns(updates);
    let participants: Vec<&str> = records.iter().map(|r| r.participant.as_str()).collect();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let outcomes: Vec<&str> = records.iter().map(|r| r.outcome.as_str()).collect();
    let rows = sqlx::query(
        "WITH ins AS ( \
           INSERT INTO keel_saga_instances (saga_type, saga_id, state, current_step, \
           deadline_us, version, body) \
           SELECT saga_type, saga_id, state, current_step, deadline_us, version, body::jsonb \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::int8[], \
           $7::text[]) AS v(saga_type, saga_id, state, current_step, deadline_us, version, body) \
           ON CONFLICT DO NOTHING RETURNING 0 AS kind, saga_type AS a, saga_id AS b), \
         upd AS ( \
           UPDATE keel_saga_instances AS t SET state = v.state, current_step = v.current_step, \
           deadline_us = v.deadline_us, version = v.version, body = v.body::jsonb, \
           updated_at = now() \
           FROM UNNEST($8::text[], $9::text[], $10::text[], $11::int4[], $12::int8[], \
           $13::int8[], $14::text[], $15::int8[]) \
           AS v(saga_type, saga_id, state, current_step, deadline_us, version, body, expected) \
           WHERE t.saga_type = v.saga_type AND t.saga_id = v.saga_id \
           AND t.version = v.expected \
           RETURNING 1 AS kind, t.saga_type AS a, t.saga_id AS b), \
         rec AS ( \
           INSERT INTO keel_saga_inbox (participant, idempotency_key, outcome) \
           SELECT participant, idempotency_key, outcome::jsonb \
           FROM UNNEST($16::text[], $17::text[], $18::text[]) \
           AS v(participant, idempotency_key, outcome) \
           ON CONFLICT DO NOTHING RETURNING 2 AS kind, participant AS a, idempotency_key AS b) \
         SELECT kind, a, b FROM ins UNION ALL SELECT kind, a, b FROM upd \
         UNION ALL SELECT kind, a, b FROM rec",
    )
    .bind(&i.types)
    .bind(&i.ids)
    .bind(&i.states)
    .bind(&i.steps)
    .bind(&i.deadlines)
    .bind(&i.versions)
    .bind(&i.bodies)
    .bind(&u.types)
    .bind(&u.ids)
    .bind(&u.states)
    .bind(&u.steps)
    .bind(&u.deadlines)
    .bind(&u.versions)
    .bind(&u.bodies)
    .bind(&u.expected)
    .bind(&participants)
    .bind(&keys)
    .bind(&outcomes)
    .fetch_all(conn)
    .await?;
    let mut written = Written::default();
    for row in &rows {
        let kind: i32 = row.try_get(0)?;
        let key = (row.try_get(1)?, row.try_get(2)?);
        match kind {
            0 => written.0.insert(key),
            1 => written.1.insert(key),
            _ => written.2.insert(key),
        };
    }
    Ok(written)
}

/// Records the inbox rows not recorded yet; returns the keys recorded (the others keep their
/// first outcome). Keys must be distinct within one call.
pub(super) async fn insert_inbox(
    conn: &mut PgConnection,
    rows: &[&InboxRow],
) -> Result<HashSet<Key>> {
    let participants: Vec<&str> = rows.iter().map(|r| r.participant.as_str()).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    let recorded = sqlx::query(
        "INSERT INTO keel_saga_inbox (participant, idempotency_key, outcome) \
         SELECT participant, idempotency_key, outcome::jsonb \
         FROM UNNEST($1::text[], $2::text[], $3::text[]) \
         AS v(participant, idempotency_key, outcome) \
         ON CONFLICT DO NOTHING RETURNING participant, idempotency_key",
    )
    .bind(&participants)
    .bind(&keys)
    .bind(&outcomes)
    .fetch_all(conn)
    .await?;
    keys_of(recorded)
}

/// The stored instances among `keys`.
pub(super) async fn load_instances(
    conn: &mut PgConnection,
    keys: &[&Key],
) -> Result<HashMap<Key, SagaInstance>> {
    let types: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let ids: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let rows = sqlx::query(
        "SELECT t.saga_type, t.saga_id, t.body::text AS body, t.version \
         FROM keel_saga_instances t \
         JOIN (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[])) AS k(saga_type, saga_id) \
         ON t.saga_type = k.saga_type AND t.saga_id = k.saga_id",
    )
    .bind(&types)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let key = (row.try_get(0)?, row.try_get(1)?);
            Ok((
                key,
                instance(row.try_get("body")?, row.try_get("version")?)?,
            ))
        })
        .collect()
}

/// The recorded outcomes among the inbox `keys` (a row claimed by `handle_once` whose
/// transaction is still open has none yet).
pub(super) async fn recorded_outcomes(
    conn: &mut PgConnection,
    keys: &[&Key],
) -> Result<HashMap<Key, ReplyOutcome>> {
    let participants: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let ids: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let rows = sqlx::query(
        "SELECT i.participant, i.idempotency_key, i.outcome::text FROM keel_saga_inbox i \
         JOIN (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[])) \
         AS k(participant, idempotency_key) \
         ON i.participant = k.participant AND i.idempotency_key = k.idempotency_key \
         WHERE i.outcome <> 'null'::jsonb",
    )
    .bind(&participants)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let key = (row.try_get(0)?, row.try_get(1)?);
            let outcome: String = row.try_get(2)?;
            Ok((key, decode("a recorded outcome", &outcome)?))
        })
        .collect()
}
