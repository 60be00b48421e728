//! The latency probe: for each order whose COMMIT returned, how long until it is readable in
//! Redis (`GET order:<id>`, polled every 2 ms for every pending order in one pipeline) and
//! visible to searches in Elasticsearch (an `ids` query every 20 ms).

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

/// Probes every order received on `committed` until the channel closes and all are seen (or
/// `patience` passed for the rest).
pub async fn run(
    settings: &Settings,
    mut committed: mpsc::UnboundedReceiver<Committed>,
    patience: Duration,
) -> crate::Result<Latencies> {
    let names = settings.names();
    let mut redis = redis::Client::open(settings.redis.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let http = reqwest::Client::new();
    let search = format!(
        "{}/{}/_search",
        settings.elasticsearch.trim_end_matches('/'),
        names.orders_index
    );
    let (mut for_redis, mut for_es): (HashMap<i64, Instant>, HashMap<i64, Instant>) =
        (HashMap::new(), HashMap::new());
    let mut out = Latencies::default();
    let mut open = true;
    let mut last_es = Instant::now();
    let mut closed_at: Option<Instant> = None;
    loop {
        while let Ok(c) = committed.try_recv() {
            for_redis.insert(c.order_id, c.at);
            for_es.insert(c.order_id, c.at);
        }
        if open && committed.is_closed() && committed.is_empty() {
            open = false;
            closed_at = Some(Instant::now());
        }
        if !open && for_redis.is_empty() && for_es.is_empty() {
            return Ok(out);
        }
        if closed_at.is_some_and(|t| t.elapsed() > patience) {
            out.timed_out = u64::try_from(for_redis.len().max(for_es.len())).unwrap_or(u64::MAX);
            return Ok(out);
        }
        if !for_redis.is_empty() {
            let ids: Vec<i64> = for_redis.keys().copied().collect();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.exists(format!("{}{id}", names.order_key_prefix));
            }
            let found: Vec<bool> = pipe.query_async(&mut redis).await?;
            let now = Instant::now();
            for (id, exists) in ids.iter().zip(found) {
                if exists && let Some(at) = for_redis.remove(id) {
                    out.redis
                        .push(now.duration_since(at).as_secs_f64() * 1000.0);
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
