//! The outbox on PostgreSQL: one row per append (`keel_outbox_ranges`), covering the versions
//! it wrote; entry ids are `row id * 2^20 + offset` (migration 0003).

use async_trait::async_trait;
use sqlx::Row;

use super::{EVENT_COLUMNS, OUTBOX_RANGE_SPAN, PostgresStore, decode_row};
use crate::Result;
use crate::store::{Outbox, OutboxEntry};

#[async_trait]
impl Outbox for PostgresStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, o.id * {OUTBOX_RANGE_SPAN} + (e.stream_version - o.base_version) \
             AS outbox_id FROM keel_outbox_ranges o JOIN keel_events e ON e.stream_id = o.stream_id \
             AND e.stream_version BETWEEN o.next_version AND o.last_version \
             ORDER BY o.id, e.stream_version LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxEntry {
                    id: row.try_get("outbox_id")?,
                    event: decode_row(row)?,
                })
            })
            .collect()
    }

    /// Entries are marked in the order `pending` returned them: marking an entry advances its
    /// append's row past it (and past the entries of that append before it).
    async fn mark_published(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Lock the appends' rows in id order first: two publishers marking overlapping entries
        // otherwise lock them in whatever order their joins visit them, and deadlock.
        let span = i64::try_from(OUTBOX_RANGE_SPAN).unwrap_or(i64::MAX);
        let mut ranges: Vec<i64> = ids.iter().map(|id| id / span).collect();
        ranges.sort_unstable();
        ranges.dedup();
        sqlx::query("SELECT id FROM keel_outbox_ranges WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ranges)
            .fetch_all(&mut *tx)
            .await?;
        let touched: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "WITH marked AS (SELECT id / {OUTBOX_RANGE_SPAN} AS range_id, MAX(id % {OUTBOX_RANGE_SPAN}) AS off \
               FROM UNNEST($1::bigint[]) AS t(id) GROUP BY 1) \
             UPDATE keel_outbox_ranges o SET next_version = GREATEST(o.next_version, o.base_version + m.off + 1) \
             FROM marked m WHERE o.id = m.range_id RETURNING o.id"
        )))
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM keel_outbox_ranges WHERE id = ANY($1) AND next_version > last_version",
        )
        .bind(&touched)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
