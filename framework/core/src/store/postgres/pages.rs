//! Reading the global order in pages at the same time (`EventStore::page_ends` and
//! `read_range`): a reader asks where the next pages end, then reads those ranges on several
//! connections and hands them over in order.
//!
//! The page ends are positions of events below the horizon (ADR 0002) when they were asked for:
//! every transaction with a smaller id had ended then, so the events up to an end are settled
//! (none can still appear before it) and a range read later returns all of them.

use sqlx::PgPool;

use super::{EVENT_COLUMNS, fetch_events};
use crate::Result;
use crate::event::RecordedEvent;
use crate::store::Position;
use crate::store::sql::{to_i64, to_u64};

/// The position of every `page`-th readable event after `after`, and of the last one, over at
/// most `page * pages` events: one walk of the primary key's index, no event decoded.
pub(super) async fn page_ends(
    pool: &PgPool,
    after: Position,
    page: usize,
    pages: usize,
) -> Result<Vec<Position>> {
    let page = page.max(1);
    let limit = page.saturating_mul(pages.max(1));
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT p.tx_id::text::bigint, p.seq FROM ( \
             SELECT k.tx_id, k.seq, row_number() OVER (ORDER BY k.tx_id, k.seq) AS n, \
                    lead(k.seq) OVER (ORDER BY k.tx_id, k.seq) AS next \
             FROM (SELECT tx_id, seq FROM keel_events \
                   WHERE (tx_id, seq) > ($1::text::xid8, $2) \
                   AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
                   ORDER BY tx_id, seq LIMIT $3) k \
         ) p WHERE p.n % $4 = 0 OR p.next IS NULL ORDER BY p.tx_id, p.seq",
    )
    .bind(after.commit.to_string())
    .bind(to_i64(after.seq))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(i64::try_from(page).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(commit, seq)| Position::new(to_u64(commit), to_u64(seq)))
        .collect())
}

/// The readable events after `after` up to and including `through`, in global order.
pub(super) async fn read_range(
    pool: &PgPool,
    after: Position,
    through: Position,
) -> Result<Vec<RecordedEvent>> {
    // The horizon is checked as in `read_all`: with an end `page_ends` gave it changes nothing
    // (every event up to it is below any later horizon), and an end from elsewhere can never
    // bring an event `read_all` would hold back.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM keel_events e \
         WHERE (e.tx_id, e.seq) > ($1::text::xid8, $2) AND (e.tx_id, e.seq) <= ($3::text::xid8, $4) \
         AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY e.tx_id, e.seq"
    );
    let select = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after.commit.to_string())
        .bind(to_i64(after.seq))
        .bind(through.commit.to_string())
        .bind(to_i64(through.seq));
    // Seqs are taken in commit order mostly: their distance is a good guess at the count.
    let expected = usize::try_from(through.seq.saturating_sub(after.seq)).unwrap_or(0);
    fetch_events(select, pool, expected).await
}
