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

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
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
    // Orders' Redis keys, the probe's own keys, order ids in Elasticsearch, order streams.
    let mut for_redis: Watch<String> = Watch::default();
    let mut for_raw: Watch<String> = Watch::default();
    let mut for_es: Watch<i64> = Watch::default();
    let mut for_store: Watch<String> = Watch::default();
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
                for_redis.insert(key, c.at);
                for_es.insert(c.order_id, c.at);
                for_store.insert(streams::order(c.order_id), c.at);
            }
        }
        while let Ok((key, at)) = raw_rx.try_recv() {
            for_raw.insert(key, at);
        }
        if closed_at.is_none() && committed.is_closed() && committed.is_empty() {
            closed_at = Some(Instant::now());
        }
        let done = closed_at.is_some() && writer.is_finished() && raw_rx.is_empty();
        if done
            && for_redis.is_empty()
            && for_raw.is_empty()
            && for_es.is_empty()
            && for_store.is_empty()
        {
            break;
        }
        if closed_at.is_some_and(|t| t.elapsed() > patience) {
            out.timed_out = u64::try_from(for_redis.len().max(for_es.len()).max(for_store.len()))
                .unwrap_or(u64::MAX);
            break;
        }
        let (orders, raw) = (for_redis.due(), for_raw.due());
        if !orders.is_empty() || !raw.is_empty() {
            let mut pipe = redis::pipe();
            for key in orders.iter().chain(&raw) {
                pipe.exists(key);
            }
            let found: Vec<bool> = pipe.query_async(&mut redis).await.map_err(|e| {
                let keys = orders.len() + raw.len();
                format!("the probe looking for {keys} key(s) in Redis: {e}")
            })?;
            let (found_orders, found_raw) = found.split_at(orders.len().min(found.len()));
            for_redis.looked(
                orders.into_iter().zip(found_orders.iter().copied()),
                REDIS_EVERY,
                &mut out.redis,
            );
            for_raw.looked(
                raw.into_iter().zip(found_raw.iter().copied()),
                REDIS_EVERY,
                &mut out.raw_redis,
            );
        }
        if last_store.elapsed() >= STORE_EVERY {
            last_store = Instant::now();
            look_in_store(&store, &mut for_store, &mut out.event_store).await?;
        }
        if !for_es.is_empty() && last_es.elapsed() >= ES_EVERY {
            last_es = Instant::now();
            let ids = for_es.due();
            if !ids.is_empty() {
                let values: Vec<String> = ids.iter().map(ToString::to_string).collect();
                let body = json!({"query": {"ids": {"values": values}}, "_source": false, "size": ids.len()});
                let response: Value = http.post(&search).json(&body).send().await?.json().await?;
                let hits: HashSet<i64> = response["hits"]["hits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|hit| hit["_id"].as_str()?.parse().ok())
                    .collect();
                for_es.looked(
                    ids.into_iter().map(|id| (id, hits.contains(&id))),
                    ES_EVERY,
                    &mut out.elasticsearch,
                );
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
    waiting: &mut Watch<String>,
    ages: &mut Vec<f64>,
) -> crate::Result<()> {
    let due = waiting.due();
    if due.is_empty() {
        return Ok(());
    }
    // The stream's first event, not `keel_streams`: its rows are never updated, so the lookups
    // stay cheap while every append rewrites the stream's version row.
    let stored: HashSet<String> = sqlx::query_scalar(
        "SELECT stream_id FROM keel_events WHERE stream_id = ANY($1) AND stream_version = 1",
    )
    .bind(&due)
    .fetch_all(store)
    .await?
    .into_iter()
    .collect();
    waiting.looked(
        due.into_iter().map(|stream| {
            let found = stored.contains(&stream);
            (stream, found)
        }),
        STORE_EVERY,
        ages,
    );
    Ok(())
}

/// What the probe waits to see in one place, by key.
struct Watch<K>(HashMap<K, Waiting>);

impl<K> Default for Watch<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Eq + Hash + Clone> Watch<K> {
    /// Waits for `key`, committed (or written) at `at`.
    fn insert(&mut self, key: K, at: Instant) {
        self.0.insert(key, Waiting::since(at));
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys due a look now.
    fn due(&self) -> Vec<K> {
        let now = Instant::now();
        self.0
            .iter()
            .filter(|(_, w)| w.next <= now)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// After a look: each key found is done and its age goes to `ages`; each other is looked
    /// at again later, no sooner than `shortest`.
    fn looked(
        &mut self,
        results: impl IntoIterator<Item = (K, bool)>,
        shortest: Duration,
        ages: &mut Vec<f64>,
    ) {
        let now = Instant::now();
        for (key, found) in results {
            if found && let Some(w) = self.0.remove(&key) {
                ages.push(w.age(now));
            } else if let Some(w) = self.0.get_mut(&key) {
                w.missed(now, shortest);
            }
        }
    }
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
