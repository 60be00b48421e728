//! The latency probe: for each order whose COMMIT returned (every `every`-th order), how long
//! until it is readable in Redis (`EXISTS order:<id>`, polled every 2 ms for every pending order
//! in one pipeline) and visible to searches in Elasticsearch (an `ids` query every 20 ms).
//!
//! Its baseline, measured in the same run by the same loop: keys the probe writes to Redis
//! itself (100 of them, one every 10 ms at the start), detected the same way. The difference
//! between the two is the pipeline's; the baseline is the probe's own resolution.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::legacy::load::Committed;
use crate::settings::Settings;

/// Latencies in milliseconds, one per order seen.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    /// Commit → readable in Redis.
    pub redis: Vec<f64>,
    /// Commit → visible to Elasticsearch searches.
    pub elasticsearch: Vec<f64>,
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
    let mut redis = client.get_multiplexed_async_connection().await?;
    let http = reqwest::Client::new();
    let search = format!(
        "{}/{}/_search",
        settings.elasticsearch.trim_end_matches('/'),
        names.orders_index
    );
    // Redis key → (since when, whether it is an order or one of the probe's own keys).
    let mut for_redis: HashMap<String, (Instant, bool)> = HashMap::new();
    let mut for_es: HashMap<i64, Instant> = HashMap::new();
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let raw_prefix = format!(
        "{}probe:",
        names.order_key_prefix.trim_end_matches("order:")
    );
    let writer = tokio::spawn(write_raw_keys(
        client.get_multiplexed_async_connection().await?,
        raw_prefix.clone(),
        raw_tx,
    ));
    let mut out = Latencies::default();
    let mut seen: u64 = 0;
    let mut last_es = Instant::now();
    let mut closed_at: Option<Instant> = None;
    loop {
        while let Ok(c) = committed.try_recv() {
            seen += 1;
            if (seen - 1).is_multiple_of(every.max(1)) {
                for_redis.insert(
                    format!("{}{}", names.order_key_prefix, c.order_id),
                    (c.at, true),
                );
                for_es.insert(c.order_id, c.at);
            }
        }
        while let Ok((key, at)) = raw_rx.try_recv() {
            for_redis.insert(key, (at, false));
        }
        if closed_at.is_none() && committed.is_closed() && committed.is_empty() {
            closed_at = Some(Instant::now());
        }
        let done = closed_at.is_some() && writer.is_finished() && raw_rx.is_empty();
        if done && for_redis.is_empty() && for_es.is_empty() {
            break;
        }
        if closed_at.is_some_and(|t| t.elapsed() > patience) {
            out.timed_out = u64::try_from(
                for_redis
                    .values()
                    .filter(|(_, order)| *order)
                    .count()
                    .max(for_es.len()),
            )
            .unwrap_or(u64::MAX);
            break;
        }
        if !for_redis.is_empty() {
            let keys: Vec<String> = for_redis.keys().cloned().collect();
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.exists(key);
            }
            let found: Vec<bool> = pipe.query_async(&mut redis).await?;
            let now = Instant::now();
            for (key, exists) in keys.iter().zip(found) {
                if exists && let Some((at, order)) = for_redis.remove(key) {
                    let ms = now.duration_since(at).as_secs_f64() * 1000.0;
                    if order {
                        out.redis.push(ms)
                    } else {
                        out.raw_redis.push(ms)
                    }
                }
            }
        }
        if !for_es.is_empty() && last_es.elapsed() >= Duration::from_millis(20) {
            last_es = Instant::now();
            let ids: Vec<String> = for_es.keys().map(ToString::to_string).collect();
            let body =
                json!({"query": {"ids": {"values": ids}}, "_source": false, "size": ids.len()});
            let response: Value = http.post(&search).json(&body).send().await?.json().await?;
            let now = Instant::now();
            for hit in response["hits"]["hits"].as_array().into_iter().flatten() {
                if let Some(id) = hit["_id"].as_str().and_then(|s| s.parse::<i64>().ok())
                    && let Some(at) = for_es.remove(&id)
                {
                    out.elasticsearch
                        .push(now.duration_since(at).as_secs_f64() * 1000.0);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let keys: Vec<String> = (0..RAW_KEYS).map(|i| format!("{raw_prefix}{i}")).collect();
    let _: () = redis::cmd("UNLINK")
        .arg(&keys)
        .query_async(&mut redis)
        .await?;
    Ok(out)
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
