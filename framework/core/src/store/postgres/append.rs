//! Appends on PostgreSQL (ADR 0005).
//!
//! The common case (no event of the batch stored yet, the expected version holds) is one
//! statement: `keel_append(...)` (migrations 0005 and 0006) locks the stream, checks the version,
//! inserts the events and writes the outbox row and the stream's version, in one round trip.
//! Subscribers are notified after the commit (`announce.rs`, ADR 0008). It does not look for stored ids: the unique index on `event_id` does, and a
//! stored id fails the statement. That failure, and a version that does not hold, send the
//! append down the general path, a transaction that finds the stored ids first and decides with
//! the same [`plan`] as every backend: skip what is stored, a no-op when all is, a typed
//! conflict otherwise.
//!
//! The statement returns one row: the events' seqs as one unordered array (they were taken in
//! version order, so sorted they pair with the versions) and one recorded time for the whole
//! append, taken after the stream's lock. The general path records `statement_timestamp()` per
//! append likewise, and returns its rows.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::super::plan::{Plan, plan};
use super::super::sql::{to_i64, to_u64};
use super::super::time::truncate;
use super::super::{AppendOutcome, ExpectedVersion, Position};
use super::OUTBOX_RANGE_SPAN;
use super::json::JsonText;
use crate::Result;
use crate::event::{NewEvent, RecordedEvent};

/// The unique index whose violation means "an event of the batch is already stored".
const EVENT_ID_KEY: &str = "keel_events_event_id_key";

/// The columns of a batch, as the array parameters of the insert statements.
struct Columns<'a> {
    event_ids: Vec<Uuid>,
    types: Vec<&'a str>,
    schema_versions: Vec<i32>,
    payloads: Vec<JsonText<'a, serde_json::Value>>,
    metadata: Vec<JsonText<'a, crate::event::Metadata>>,
    occurred: Vec<DateTime<Utc>>,
}

impl<'a> Columns<'a> {
    fn of(events: &'a [NewEvent]) -> Self {
        let n = events.len();
        let mut columns = Self {
            event_ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            schema_versions: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            occurred: Vec::with_capacity(n),
        };
        for e in events {
            columns.event_ids.push(e.event_id);
            columns.types.push(e.event_type.as_str());
            columns
                .schema_versions
                .push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
            columns.payloads.push(JsonText(&e.payload));
            columns.metadata.push(JsonText(&e.metadata));
            columns.occurred.push(truncate(e.occurred_at));
        }
        columns
    }
}

/// Where the store put each appended event: the transaction, and per event its seq and
/// recorded time, in version order (one recorded time per append on both paths: the general
/// path's insert takes its statement's start, after the stream's lock).
struct Written {
    tx: u64,
    seqs: Vec<i64>,
    recorded: Vec<DateTime<Utc>>,
}

/// Appends `events` to `stream_id` at `expected`: the one-statement path when it applies, the
/// general path otherwise.
pub(super) async fn append(
    pool: &PgPool,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome> {
    if !events.is_empty() && events.len() as u64 <= OUTBOX_RANGE_SPAN {
        match append_one_statement(pool, stream_id, expected, &events).await {
            Ok(Some((actual, written))) => {
                return Ok(outcome(stream_id, actual, events, &written, vec![]));
            }
            // The version does not hold: a conflict, or a re-delivered batch.
            Ok(None) => {}
            Err(e) if stored_id(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    append_general(pool, stream_id, expected, events).await
}

/// Whether `error` is the unique violation of a stored event id.
fn stored_id(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(EVENT_ID_KEY))
}

/// One round trip through `keel_append`; `None` when the expected version does not hold
/// (nothing was written).
async fn append_one_statement(
    pool: &PgPool,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Option<(u64, Written)>, sqlx::Error> {
    let expected = match expected {
        ExpectedVersion::Any => None,
        ExpectedVersion::NoStream => Some(0),
        ExpectedVersion::Exact(v) => Some(to_i64(v)),
    };
    let c = Columns::of(events);
    let row = sqlx::query(
        "SELECT actual, tx, seqs, recorded FROM keel_append($1, $2, $3::uuid[], $4::text[], \
         $5::int[], $6::json[], $7::json[], $8::timestamptz[])",
    )
    .bind(stream_id)
    .bind(expected)
    .bind(&c.event_ids)
    .bind(&c.types)
    .bind(&c.schema_versions)
    .bind(&c.payloads)
    .bind(&c.metadata)
    .bind(&c.occurred)
    .fetch_one(pool)
    .await?;
    let actual = to_u64(row.try_get("actual")?);
    let Some(tx) = row.try_get::<Option<i64>, _>("tx")? else {
        return Ok(None);
    };
    // The events took increasing seqs in version order, and one recorded time.
    let mut seqs: Vec<i64> = row.try_get("seqs")?;
    seqs.sort_unstable();
    if seqs.len() != events.len() {
        return Err(sqlx::Error::Protocol(format!(
            "keel_append returned {} seqs for {} events",
            seqs.len(),
            events.len()
        )));
    }
    let recorded: DateTime<Utc> = row.try_get("recorded")?;
    let written = Written {
        tx: to_u64(tx),
        seqs,
        recorded: vec![recorded; events.len()],
    };
    Ok(Some((actual, written)))
}

/// The general path: in one transaction, lock the stream, find the batch's stored ids, decide
/// with [`plan`], and write what is left.
async fn append_general(
    pool: &PgPool,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome> {
    let mut tx = pool.begin().await?;
    // Serialize appends to this stream before the transaction is given its id.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(stream_id)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let stored: Vec<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM keel_events WHERE event_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let actual: u64 = sqlx::query_scalar("SELECT version FROM keel_streams WHERE stream_id = $1")
        .bind(stream_id)
        .fetch_optional(&mut *tx)
        .await?
        .map_or(0, to_u64);
    let (fresh, duplicates) = match plan(stream_id, expected, actual, events, |id| {
        stored.contains(id)
    })? {
        Plan::Done(outcome) => {
            tx.commit().await?;
            return Ok(outcome);
        }
        Plan::Write { fresh, duplicates } => (fresh, duplicates),
    };
    let written = write(&mut tx, stream_id, actual, &fresh).await?;
    tx.commit().await?;
    Ok(outcome(stream_id, actual, fresh, &written, duplicates))
}

/// Writes `fresh` after version `actual` in the open transaction: the events, the outbox rows,
/// the stream's version, and the notification.
async fn write(
    conn: &mut PgConnection,
    stream_id: &str,
    actual: u64,
    fresh: &[NewEvent],
) -> Result<Written> {
    let c = Columns::of(fresh);
    let versions: Vec<i64> = (1..=fresh.len() as u64)
        .map(|i| to_i64(actual + i))
        .collect();
    let rows = sqlx::query(
        "WITH inserted AS ( \
           INSERT INTO keel_events (event_id, stream_id, stream_version, event_type, \
             schema_version, payload, metadata, occurred_at, recorded_at) \
           SELECT u.event_id, $1, u.stream_version, u.event_type, u.schema_version, \
             u.payload, u.metadata, u.occurred_at, statement_timestamp() \
           FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::json[], \
             $7::json[], $8::timestamptz[]) \
             AS u(event_id, stream_version, event_type, schema_version, payload, metadata, occurred_at) \
           ORDER BY u.stream_version \
           RETURNING seq, tx_id, stream_version, recorded_at) \
         SELECT seq, tx_id::text::bigint AS tx, recorded_at FROM inserted \
         ORDER BY stream_version",
    )
    .bind(stream_id)
    .bind(&c.event_ids)
    .bind(&versions)
    .bind(&c.types)
    .bind(&c.schema_versions)
    .bind(&c.payloads)
    .bind(&c.metadata)
    .bind(&c.occurred)
    .fetch_all(&mut *conn)
    .await?;
    let stream_version = actual + fresh.len() as u64;
    // One outbox row per append (per 2^20 events, the span an entry id can address).
    let mut first = actual + 1;
    while first <= stream_version {
        let last = stream_version.min(first + OUTBOX_RANGE_SPAN - 1);
        sqlx::query(
            "INSERT INTO keel_outbox_ranges (stream_id, base_version, next_version, last_version) \
             VALUES ($1, $2, $2, $3)",
        )
        .bind(stream_id)
        .bind(to_i64(first))
        .bind(to_i64(last))
        .execute(&mut *conn)
        .await?;
        first = last + 1;
    }
    sqlx::query(
        "INSERT INTO keel_streams (stream_id, version) VALUES ($1, $2) \
         ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version",
    )
    .bind(stream_id)
    .bind(to_i64(stream_version))
    .execute(&mut *conn)
    .await?;
    let mut written = Written {
        tx: 0,
        seqs: Vec::with_capacity(rows.len()),
        recorded: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        written.tx = to_u64(row.try_get("tx")?);
        written.seqs.push(row.try_get("seq")?);
        written.recorded.push(row.try_get("recorded_at")?);
    }
    Ok(written)
}

/// The outcome of writing `fresh` after version `actual`, as `written` recorded them.
fn outcome(
    stream_id: &str,
    actual: u64,
    fresh: Vec<NewEvent>,
    written: &Written,
    duplicates: Vec<Uuid>,
) -> AppendOutcome {
    let stream_version = actual + fresh.len() as u64;
    let appended = fresh
        .into_iter()
        .zip(written.seqs.iter().zip(&written.recorded))
        .zip(actual + 1..)
        .map(
            |((event, (seq, recorded_at)), stream_version)| RecordedEvent {
                event_id: event.event_id,
                stream_id: stream_id.to_owned(),
                stream_version,
                position: Position::new(written.tx, to_u64(*seq)),
                occurred_at: truncate(event.occurred_at),
                recorded_at: *recorded_at,
                event_type: event.event_type,
                schema_version: event.schema_version,
                payload: event.payload,
                metadata: event.metadata,
            },
        )
        .collect();
    AppendOutcome {
        stream_version,
        appended,
        duplicates,
    }
}
