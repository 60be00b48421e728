//! The baselines: the projection's final documents written directly, in the groups the runner
//! writes them in (the documents of one batch of `batch.size` events), one group after the
//! other: Redis pipelines of `SET` document + `SET` version with the redis crate's connection
//! manager (the sink's client), and Elasticsearch `_bulk` requests with reqwest (the sink's).
//! Besides, the history read alone from the store, as the runner's reader reads it: what bounds
//! a catch-up that has to read before it writes.

use std::time::{Duration, Instant};

use keel_core::store::PostgresStore;
use keel_core::{EventStore as _, Position};
use redis::aio::ConnectionManager;
use serde_json::{Value, json};

use super::model::{Account, final_doc, stream};
use crate::BenchError;
use crate::support::bar;

/// A final document: its key, its JSON text and its version.
type Doc = (String, String, u64);

/// The documents of accounts `0..accounts`, `group` per write.
fn groups(
    prefix: &str,
    accounts: usize,
    per_doc: usize,
    group: usize,
) -> Result<Vec<Vec<Doc>>, BenchError> {
    let docs = (0..accounts)
        .map(|i| {
            let key = stream(prefix, i);
            let (doc, version): (Account, u64) = final_doc(key.clone(), per_doc)?;
            Ok((key, serde_json::to_string(&doc)?, version))
        })
        .collect::<Result<Vec<_>, BenchError>>()?;
    Ok(docs.chunks(group.max(1)).map(<[_]>::to_vec).collect())
}

/// Writes the documents to Redis under `key_prefix` (`<key_prefix><key>` and
/// `<key_prefix>~version:<key>`, the sink's layout); returns the time the writes took.
pub(crate) async fn redis(
    conn: &ConnectionManager,
    key_prefix: &str,
    stream_prefix: &str,
    accounts: usize,
    per_doc: usize,
    group: usize,
) -> Result<Duration, BenchError> {
    let groups = groups(stream_prefix, accounts, per_doc, group)?;
    let progress = bar(accounts, "raw redis pipelines");
    let mut conn = conn.clone();
    let started = Instant::now();
    for docs in &groups {
        let mut pipe = redis::pipe();
        for (key, text, version) in docs {
            pipe.cmd("SET")
                .arg(format!("{key_prefix}{key}"))
                .arg(text)
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{key_prefix}~version:{key}"))
                .arg(*version)
                .ignore();
        }
        let () = pipe.query_async(&mut conn).await?;
        progress.inc(docs.len() as u64);
    }
    let took = started.elapsed();
    progress.finish_and_clear();
    Ok(took)
}

/// Creates `index` with the model's mapping, then writes the documents with `_bulk` (plain
/// `index` actions); returns the time the writes took.
pub(crate) async fn elasticsearch(
    http: &reqwest::Client,
    url: &str,
    index: &str,
    stream_prefix: &str,
    accounts: usize,
    per_doc: usize,
    group: usize,
) -> Result<Duration, BenchError> {
    http.put(format!("{url}/{index}"))
        .json(&json!({ "mappings": { "properties": super::model::mapping() } }))
        .send()
        .await?
        .error_for_status()?;
    let groups = groups(stream_prefix, accounts, per_doc, group)?;
    let progress = bar(accounts, "raw elasticsearch _bulk");
    let started = Instant::now();
    for docs in &groups {
        let mut body = String::new();
        for (key, text, _) in docs {
            body.push_str(&json!({ "index": { "_index": index, "_id": key } }).to_string());
            body.push('\n');
            body.push_str(text);
            body.push('\n');
        }
        let reply: Value = http
            .post(format!("{url}/_bulk"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if reply["errors"] != Value::Bool(false) {
            return Err(format!("raw _bulk into {index} reported errors: {reply}").into());
        }
        progress.inc(docs.len() as u64);
    }
    let took = started.elapsed();
    progress.finish_and_clear();
    Ok(took)
}

/// Reads the whole history with `EventStore::read_all` in pages of `page` events, one after
/// the other, and drops it (no decoding, planning or writing); returns the time it took.
pub(crate) async fn read_history(
    store: &PostgresStore,
    page: usize,
    history: usize,
) -> Result<Duration, BenchError> {
    let progress = bar(history, "read the history alone");
    let started = Instant::now();
    let mut cursor = Position::START;
    let mut read = 0;
    loop {
        let events = store.read_all(cursor, page).await?;
        let Some(last) = events.last() else {
            break;
        };
        cursor = last.position;
        read += events.len();
        progress.inc(events.len() as u64);
    }
    let took = started.elapsed();
    progress.finish_and_clear();
    if read != history {
        return Err(format!("read {read} events, expected {history}").into());
    }
    eprintln!(
        "  the history read alone: {read} events in {:.2} s: {:.0} events/s",
        took.as_secs_f64(),
        crate::support::per_second(read, took)
    );
    Ok(took)
}
