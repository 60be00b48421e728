//! Crash and resume with the real binary: `keel-capture run` is killed with SIGKILL mid-snapshot
//! and mid-stream, restarted each time, and at the end the topic, folded by key, must equal what
//! the database holds: nothing lost. Duplicates (records sent but not yet in the offsets file
//! when the process died) are counted and bounded.
#![cfg(feature = "integration")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Fixture, fold, read_topic};
use keel_core::testing::stack;
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

/// Writes the connector JSON `keel-capture run --config` reads.
fn write_config(fx: &Fixture, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let mut config = json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "3306",
        "database.user": "keel",
        "database.password": "keel",
        "database.server.id": (2_000_000 + uuid::Uuid::new_v4().as_u128() % 1_000_000).to_string(),
        "topic.prefix": fx.prefix,
        "database.include.list": fx.db,
        "kafka.bootstrap.servers": stack::kafka().url,
        "include.schema.changes": "false",
        "poll.interval.ms": "100",
        "offset.storage.file.filename": fx.dir.join("offsets.json").display().to_string(),
    });
    for (key, value) in extra {
        config[*key] = json!(value);
    }
    let path = fx.dir.join("connector.json");
    std::fs::write(
        &path,
        json!({"name": "kill-test", "config": config}).to_string(),
    )
    .unwrap();
    path
}

fn start(config: &Path, exit_at_end: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keel-capture"));
    command.args(["run", "--config"]).arg(config);
    if exit_at_end {
        command.arg("--exit-at-end");
    }
    command.spawn().unwrap()
}

/// SIGKILL and reap.
fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs capture to the binlog end seen at its start, and checks it ends cleanly.
fn finish(config: &Path) {
    let status = start(config, true).wait().unwrap();
    assert!(status.success(), "the last run ended with {status}");
}

/// The table's rows as capture writes them (`id` → the `after` object).
async fn table(fx: &mut Fixture, table: &str) -> std::collections::BTreeMap<String, Json> {
    let rows: Vec<(i64, String, i64)> = fx
        .root
        .query(format!(
            "SELECT id, label, n FROM {}.{table} ORDER BY id",
            fx.db
        ))
        .await
        .unwrap();
    rows.into_iter()
        .map(|(id, label, n)| {
            (
                json!({"id": id}).to_string(),
                json!({"id": id, "label": label, "n": n}),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_snapshot_killed_three_times_resumes_and_loses_nothing() {
    let mut fx = Fixture::new("killsnap").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.items (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL, n BIGINT NOT NULL)"
        ))
        .await
        .unwrap();
    fx.root
        .query_drop(format!(
            "INSERT INTO {db}.items SELECT seq, CONCAT('item ', seq), seq * 7 FROM seq_1_to_30000"
        ))
        .await
        .unwrap();
    let config = write_config(
        &fx,
        &[("snapshot.mode", "initial"), ("snapshot.fetch.size", "500")],
    );

    let mut killed_mid_snapshot = 0;
    for wait_ms in [700, 1100, 900] {
        let child = start(&config, false);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        kill(child);
        let offsets = std::fs::read_to_string(fx.dir.join("offsets.json")).unwrap_or_default();
        let stored: Json = serde_json::from_str(&offsets).unwrap_or(Json::Null);
        killed_mid_snapshot += usize::from(stored.get("snapshot").is_some_and(|s| !s.is_null()));
    }
    assert!(
        killed_mid_snapshot >= 1,
        "no kill landed in the middle of the snapshot"
    );
    finish(&config);

    let expected = table(&mut fx, "items").await;
    let records = read_topic(&fx.topic("items"), expected.len());
    assert_eq!(fold(&records), expected, "the topic folds to the table");
    let duplicates = records.len() - expected.len();
    // A restart resumes at the last acknowledged chunk: at most a few chunks per kill again.
    assert!(
        duplicates <= 3 * 4 * 500,
        "{duplicates} duplicates after 3 kills"
    );
    assert!(
        records.iter().all(|(_, v)| v["op"] == "r"),
        "only snapshot reads"
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn streaming_killed_five_times_resumes_and_loses_nothing() {
    let mut fx = Fixture::new("killstream").await;
    let db = fx.db.clone();
    fx.root
        .query_drop(format!(
            "CREATE TABLE {db}.items (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL, n BIGINT NOT NULL)"
        ))
        .await
        .unwrap();
    // No offsets and `no_data`: capture starts at the binlog end, before the writes below.
    let config = write_config(&fx, &[("snapshot.mode", "no_data")]);
    let mut child = start(&config, false);
    tokio::time::sleep(Duration::from_millis(800)).await;

    // The writer: transactions of 5 statements (inserts, then updates and deletes), at least
    // 600 and until capture was killed and restarted five times, so every kill lands while it
    // writes however fast this machine runs them.
    let url = stack::mariadb_root().require().url;
    let kills_done = Arc::new(AtomicBool::new(false));
    let writing = Arc::clone(&kills_done);
    let writer = tokio::spawn(async move {
        let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
        let mut t = 0i64;
        while t < 600 || !writing.load(Ordering::SeqCst) {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await
                .unwrap();
            for i in 0..5i64 {
                let id = t * 5 + i;
                tx.exec_drop(
                    format!("INSERT INTO {db}.items VALUES (?, ?, ?)"),
                    (id, format!("row {id}"), id),
                )
                .await
                .unwrap();
            }
            if t > 10 {
                let old = (t - 10) * 5;
                tx.exec_drop(
                    format!("UPDATE {db}.items SET n = n + 1000 WHERE id = ?"),
                    (old,),
                )
                .await
                .unwrap();
                tx.exec_drop(format!("DELETE FROM {db}.items WHERE id = ?"), (old + 1,))
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            t += 1;
        }
        t
    });
    for wait_ms in [500, 900, 400, 1200, 700] {
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        kill(child);
        tokio::time::sleep(Duration::from_millis(200)).await;
        child = start(&config, false);
    }
    kills_done.store(true, Ordering::SeqCst);
    let transactions = writer.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(child);
    finish(&config);

    let expected = table(&mut fx, "items").await;
    // 5 inserts per transaction, and an update and a delete in each after the tenth (+ tombstones).
    let records = read_topic(&fx.topic("items"), expected.len());
    assert_eq!(fold(&records), expected, "the topic folds to the table");
    let changes = records.iter().filter(|(_, v)| !v.is_null()).count();
    let written = usize::try_from(5 * transactions + 2 * (transactions - 11)).unwrap();
    assert!(
        changes >= written,
        "{changes} changes for {written} written"
    );
    let duplicates = changes - written;
    // Duplicates are the records sent after the last stored offset when a kill came (offsets are
    // stored every 100 ms, later on a loaded machine): each restart resumes near where the
    // process died, never from the start, so they stay well under what was written.
    assert!(
        duplicates * 2 < written,
        "{duplicates} duplicates after 5 kills, for {written} changes"
    );
    eprintln!("{duplicates} duplicates after 5 kills, for {written} changes");
    fx.drop_db().await;
}
