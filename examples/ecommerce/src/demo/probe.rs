//! The latency probe: for each order whose COMMIT returned (every `every`-th order), how long
//! until it is readable in Redis (`EXISTS order:<id>`, in one pipeline for every order due a
//! look) and visible to searches in Elasticsearch (an `ids` query, at most every 20 ms); and,
//! to tell the stages apart, until its first event is in the event store (one query for every
//! order due a look, at most every 10 ms): capture and translation before, the projection
//! after.
//!
//! An order is looked at again 2 ms after a miss while it is young, then after 2% of its age
//! (at most 250 ms): a latency is known to within 2 ms or 2%, and thousands of orders waiting
//! behind a backlog cost a few lookups each instead of one every 2 ms.
//!
//! Its baseline, measured in the same run by the same loop: keys the probe writes to Redis
//! itself (100 of them, one every 10 ms at the start), detected the same way. The difference
//! between the two is the pipeline's; the baseline is the probe's own resolution.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::domain::streams;
use crate::legacy::load::Committed;
use crate::settings::Settings;

/// Latencies in milliseconds, one per order seen.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    /// Commit → readable in Redis.
    pub redis: Vec<f64>,
    /// Commit → visible to Elasticsearch searches.
    pub elasticsearch: Vec<f64>,
    /// Commit → the order's stream in the event store (captured and translated).
    pub event_store: Vec<f64>,
    /// Orders not seen within the probe's patience.
    pub timed_out: u64,
    /// The baseline: a Redis write by the probe → seen by the same polling loop.
    pub raw_redis: Vec<f64>,
}

/// A percentile (0–100) of `values`, `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted.get(rank).copied()
}

/// Probes every `every`-th order received on `committed` until the channel closes and all are
/// seen (or `patience` passed for the rest), and measures its own baseline meanwhile.
pub async fn run(
    settings: &Settings,
    mut committed: mpsc::UnboundedReceiver<Committed>,
    every: u64,
    patience: Duration,
) -> crate::Result<Latencies> {
    let names = settings.names();
    let client = redis::Client::open(settings.redis.as_str())?;
    // The client's 500 ms response timeout would end the run when a loaded machine answers a
    // look late; a late answer is a latency to measure, not a failure.
    let patient = redis::AsyncConnectionConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut redis = client
        .get_multiplexed_async_connection_with_config(&patient)
        .await?;
    let http = reqwest::Client::new();
    let search = format!(
        "{}/{}/_search",
        settings.elasticsearch.trim_end_matches('/'),
        names.orders_index
    );
    // Redis key → when it started waiting, when to look next, whether it is an order (or one of
    // the probe's own keys); order id → the same for Elasticsearch.
    let mut for_redis: HashMap<String, (Waiting, bool)> = HashMap::new();
    let mut for_es: HashMap<i64, Waiting> = HashMap::new();
    let mut for_store: HashMap<String, Waiting> = HashMap::new();
    let store = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&settings.event_store_url())
        .await?;
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let raw_prefix = format!(
        "{}probe:",
        names.order_key_prefix.trim_end_matches("order:")
    );
    let writer = tokio::spawn(write_raw_keys(
        client
            .get_multiplexed_async_connection_with_config(&patient)
            .await?,
        raw_prefix.clone(),
        raw_tx,
    ));
    let mut out = Latencies::default();
    let mut seen: u64 = 0;
    let mut last_es = Instant::now();
    let mut last_store = Instant::now();
    let mut closed_at: Option<Instant> = None;
    loop {
        while let Ok(c) = committed.try_recv() {
            seen += 1;
            if (seen - 1).is_multiple_of(every.max(1)) {
                let key = format!("{}{}", names.order_key_prefix, c.order_id);
                for_redis.insert(key, (Waiting::since(c.at), true));
                for_es.insert(c.order_id, Waiting::since(c.at));
                for_store.insert(streams::order(c.order_id), Waiting::since(c.at));
            }
        }
        while let Ok((key, at)) = raw_rx.try_recv() {
            for_redis.insert(key, (Waiting::since(at), false));
        }
        if closed_at.is_none() && committed.is_closed() && committed.is_empty() {
            closed_at = Some(Instant::now());
        }
        let done = closed_at.is_some() && writer.is_finished() && raw_rx.is_empty();
        if done && for_redis.is_empty() && for_es.is_empty() && for_store.is_empty() {
            break;
        }
        if closed_at.is_some_and(|t| t.elapsed() > patience) {
            out.timed_out = u64::try_from(
                for_redis
                    .values()
                    .filter(|(_, order)| *order)
                    .count()
                    .max(for_es.len())
                    .max(for_store.len()),
            )
            .unwrap_or(u64::MAX);
            break;
        }
        let now = Instant::now();
        let keys: Vec<String> = for_redis
            .iter()
            .filter(|(_, (w, _))| w.next <= now)
            .map(|(key, _)| key.clone())
            .collect();
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.exists(key);
            }
            let found: Vec<bool> = pipe.query_async(&mut redis).await.map_err(|e| {
                format!("the probe looking for {} key(s) in Redis: {e}", keys.len())
            })?;
            let now = Instant::now();
            for (key, exists) in keys.iter().zip(found) {
                if exists && let Some((w, order)) = for_redis.remove(key) {
                    let ms = w.age(now);
                    if order {
                        out.redis.push(ms)
                    } else {
                        out.raw_redis.push(ms)
                    }
                } else if let Some((w, _)) = for_redis.get_mut(key) {
                    w.missed(now, REDIS_EVERY);
                }
            }
        }
        if last_store.elapsed() >= STORE_EVERY {
            last_store = Instant::now();
            look_in_store(&store, &mut for_store, &mut out.event_store).await?;
        }
        if !for_es.is_empty() && last_es.elapsed() >= ES_EVERY {
            last_es = Instant::now();
            let ids: Vec<String> = for_es
                .iter()
                .filter(|(_, w)| w.next <= last_es)
                .map(|(id, _)| id.to_string())
                .collect();
            if !ids.is_empty() {
                let body =
                    json!({"query": {"ids": {"values": ids}}, "_source": false, "size": ids.len()});
                let response: Value = http.post(&search).json(&body).send().await?.json().await?;
                let now = Instant::now();
                for hit in response["hits"]["hits"].as_array().into_iter().flatten() {
                    if let Some(id) = hit["_id"].as_str().and_then(|s| s.parse::<i64>().ok())
                        && let Some(w) = for_es.remove(&id)
                    {
                        out.elasticsearch.push(w.age(now));
                    }
                }
                for id in &ids {
                    if let Some(w) = id.parse::<i64>().ok().and_then(|id| for_es.get_mut(&id)) {
                        w.missed(now, ES_EVERY);
                    }
                }
            }
        }
        tokio::time::sleep(REDIS_EVERY).await;
    }
    let keys: Vec<String> = (0..RAW_KEYS).map(|i| format!("{raw_prefix}{i}")).collect();
    let _: () = redis::cmd("UNLINK")
        .arg(&keys)
        .query_async(&mut redis)
        .await?;
    Ok(out)
}

/// Looks for the streams in `waiting` that are due a look, in one query; records the age of
/// each found.
async fn look_in_store(
    store: &sqlx::PgPool,
    waiting: &mut HashMap<String, Waiting>,
    found: &mut Vec<f64>,
) -> crate::Result<()> {
    let now = Instant::now();
    let due: Vec<String> = waiting
        .iter()
        .filter(|(_, w)| w.next <= now)
        .map(|(stream, _)| stream.clone())
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let stored: Vec<String> =
        // The stream's first event, not `keel_streams`: its rows are never updated, so the
        // lookups stay cheap while every append rewrites the stream's version row.
        sqlx::query_scalar(
            "SELECT stream_id FROM keel_events WHERE stream_id = ANY($1) AND stream_version = 1",
        )
            .bind(&due)
            .fetch_all(store)
            .await?;
    let now = Instant::now();
    for stream in &stored {
        if let Some(w) = waiting.remove(stream) {
            found.push(w.age(now));
        }
    }
    for stream in &due {
        if let Some(w) = waiting.get_mut(stream) {
            w.missed(now, STORE_EVERY);
        }
    }
    Ok(())
}

/// The shortest wait between two looks at one key in Redis.
const REDIS_EVERY: Duration = Duration::from_millis(2);
/// The shortest wait between two looks in the event store (it serves the pipeline too).
const STORE_EVERY: Duration = Duration::from_millis(10);
/// How long the probe waits for Redis to answer one look (or one baseline write).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest wait between two searches in Elasticsearch.
const ES_EVERY: Duration = Duration::from_millis(20);
/// The longest wait between two looks at one order.
const LONGEST: Duration = Duration::from_millis(250);

/// Something the probe waits to see.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    since: Instant,
    next: Instant,
}

impl Waiting {
    /// Waiting since `at`, due a look at once.
    fn since(at: Instant) -> Self {
        Self {
            since: at,
            next: at,
        }
    }

    /// Milliseconds from `since` to `now`.
    fn age(&self, now: Instant) -> f64 {
        now.duration_since(self.since).as_secs_f64() * 1000.0
    }

    /// Not there yet at `now`: look again after 2% of its age, within `shortest` and 250 ms.
    fn missed(&mut self, now: Instant, shortest: Duration) {
        let age = now.duration_since(self.since);
        self.next = now + (age / 50).clamp(shortest, LONGEST);
    }
}

/// The baseline's keys.
const RAW_KEYS: u32 = 100;

/// Writes the baseline's keys, one every 10 ms, reporting each when its `SET` returned.
async fn write_raw_keys(
    mut conn: redis::aio::MultiplexedConnection,
    prefix: String,
    written: mpsc::UnboundedSender<(String, Instant)>,
) -> redis::RedisResult<()> {
    for i in 0..RAW_KEYS {
        let key = format!("{prefix}{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("1")
            .arg("EX")
            .arg(600)
            .query_async(&mut conn)
            .await?;
        let _ = written.send((key, Instant::now()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_pick_the_ranked_value() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(51.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
