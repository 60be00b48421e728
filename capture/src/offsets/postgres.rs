//! Offsets in a PostgreSQL table, one row per connector, replaced in one statement per save
//! (ADR 0042). The table name is interpolated into the SQL: the configuration admits only
//! letters, digits, `_` and one `.` there.

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;

use super::Offset;
use crate::{Error, Result};

/// A connector's offsets in a PostgreSQL table:
/// `(connector TEXT PRIMARY KEY, offset_value JSONB, updated_at TIMESTAMPTZ)`, created when
/// missing.
#[derive(Debug, Clone)]
pub struct PostgresOffsetStore {
    pool: PgPool,
    table: String,
    connector: String,
}

impl PostgresOffsetStore {
    /// Connects to `url` and creates `table` when it does not exist. `table` must be a plain
    /// (optionally schema-qualified) name; the configuration checks it.
    pub async fn open(url: &str, table: &str, connector: &str) -> Result<Self> {
        let err = |reason: String| Error::Offsets {
            store: format!("PostgreSQL table {table}"),
            reason,
        };
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|e| err(format!("cannot connect: {e}")))?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
               connector TEXT PRIMARY KEY, \
               offset_value JSONB NOT NULL, \
               updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )))
        .execute(&pool)
        .await
        .map_err(|e| err(format!("cannot create the table: {e}")))?;
        Ok(Self {
            pool,
            table: table.to_owned(),
            connector: connector.to_owned(),
        })
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::Offsets {
            store: format!("PostgreSQL table {}", self.table),
            reason: reason.to_string(),
        }
    }

    /// This connector's offset, `None` when it has no row.
    pub async fn load(&self) -> Result<Option<Offset>> {
        let row: Option<(Json<Offset>,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT offset_value FROM {} WHERE connector = $1",
            self.table
        )))
        .bind(&self.connector)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|(Json(offset),)| offset))
    }

    /// Replaces this connector's offset; durable once the statement returns (its own
    /// transaction, committed with the server's `synchronous_commit`).
    pub async fn save(&self, offset: &Offset) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (connector, offset_value, updated_at) VALUES ($1, $2, now()) \
             ON CONFLICT (connector) DO UPDATE \
             SET offset_value = EXCLUDED.offset_value, updated_at = EXCLUDED.updated_at",
            self.table
        )))
        .bind(&self.connector)
        .bind(Json(offset))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}
