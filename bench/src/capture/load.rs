//! The MariaDB side of the capture benchmark: the bulk transaction, the small transactions and
//! the paced load of the latency figure.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::ProgressBar;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use crate::BenchError;

/// Rows per INSERT…SELECT inside the bulk transaction (for its progress bar).
const BULK_CHUNK: u64 = 50_000;
/// Connections issuing the small transactions.
const UPDATERS: u64 = 4;
/// Rows per transaction of the paced load, and transactions per second: 10,000 rows/s.
const PACED_ROWS_PER_TXN: u64 = 100;
const PACED_TICK: Duration = Duration::from_millis(10);

pub(crate) async fn connect(url: &str) -> Result<Conn, BenchError> {
    Ok(Conn::new(Opts::from_url(url)?).await?)
}

/// The tables of one run.
pub(crate) async fn create_tables(
    conn: &mut Conn,
    db: &str,
    small_rows: u64,
) -> Result<(), BenchError> {
    for sql in [
        format!("CREATE DATABASE {db}"),
        format!(
            "CREATE TABLE {db}.bulk (id INT PRIMARY KEY, name VARCHAR(40), qty INT, \
             price DECIMAL(10,2), created DATETIME(3))"
        ),
        format!("CREATE TABLE {db}.small (id INT PRIMARY KEY, n BIGINT, note VARCHAR(20))"),
        format!("CREATE TABLE {db}.lat (id BIGINT PRIMARY KEY, note VARCHAR(40))"),
        format!("CREATE TABLE {db}.ready (id INT PRIMARY KEY)"),
        format!("INSERT INTO {db}.small SELECT seq, 0, 'small' FROM seq_1_to_{small_rows}"),
    ] {
        conn.query_drop(sql).await?;
    }
    Ok(())
}

/// One transaction inserting `rows` rows into `bulk` with INSERT…SELECT, in chunks.
pub(crate) async fn bulk(
    conn: &mut Conn,
    db: &str,
    rows: u64,
    bar: &ProgressBar,
) -> Result<(), BenchError> {
    conn.query_drop("BEGIN").await?;
    let mut from = 1;
    while from <= rows {
        let to = (from + BULK_CHUNK - 1).min(rows);
        conn.query_drop(format!(
            "INSERT INTO {db}.bulk SELECT seq, CONCAT('item ', seq), seq % 1000, seq / 100, \
             TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_{from}_to_{to}"
        ))
        .await?;
        bar.set_position(to);
        from = to + 1;
    }
    conn.query_drop("COMMIT").await?;
    Ok(())
}

/// `n` single-row UPDATEs of `small`, each its own transaction (autocommit), from
/// [`UPDATERS`] connections.
pub(crate) async fn small_updates(
    url: &str,
    db: &str,
    n: u64,
    small_rows: u64,
    bar: &ProgressBar,
) -> Result<(), BenchError> {
    let mut tasks = Vec::new();
    for w in 0..UPDATERS {
        let (url, db, bar) = (url.to_owned(), db.to_owned(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(&url).await?;
            let stmt = conn
                .prep(format!("UPDATE {db}.small SET n = n + 1 WHERE id = ?"))
                .await?;
            let mut i = w;
            while i < n {
                conn.exec_drop(&stmt, (i % small_rows + 1,)).await?;
                bar.inc(1);
                i += UPDATERS;
            }
            conn.disconnect().await?;
            Ok::<(), BenchError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("an updater panicked: {e}"))??;
    }
    Ok(())
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Inserts into `lat` at 10,000 rows/s (100-row transactions every 10 ms) for `secs`, ids from
/// `first_id`; returns each row's commit time (epoch ms, taken just before COMMIT is sent, so
/// the commit itself counts in the latency) and the achieved rows/s.
pub(crate) async fn paced(
    conn: &mut Conn,
    db: &str,
    first_id: i64,
    secs: u64,
    bar: &ProgressBar,
) -> Result<(HashMap<i64, f64>, f64), BenchError> {
    let txns = secs * 1000 / PACED_TICK.as_millis() as u64;
    let mut commits = HashMap::new();
    let mut tick = tokio::time::interval(PACED_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = std::time::Instant::now();
    let mut id = first_id;
    for _ in 0..txns {
        tick.tick().await;
        let ids: Vec<i64> = (id..id + PACED_ROWS_PER_TXN as i64).collect();
        id += PACED_ROWS_PER_TXN as i64;
        let values: Vec<String> = ids
            .iter()
            .map(|i| format!("({i}, 'paced row {i}')"))
            .collect();
        conn.query_drop("BEGIN").await?;
        conn.query_drop(format!("INSERT INTO {db}.lat VALUES {}", values.join(",")))
            .await?;
        let at = now_ms();
        conn.query_drop("COMMIT").await?;
        for i in ids {
            commits.insert(i, at);
        }
        bar.inc(PACED_ROWS_PER_TXN);
    }
    #[allow(clippy::cast_precision_loss, reason = "a row count")]
    let rate = commits.len() as f64 / started.elapsed().as_secs_f64();
    Ok((commits, rate))
}
