//! Kafka side of the capture benchmark: counting what reached a topic, commit-to-append
//! latencies, and deleting the run's topics.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Timestamp};

use crate::BenchError;

fn consumer(brokers: &str) -> Result<BaseConsumer, BenchError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("keel-bench-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()?)
}

fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, BenchError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?)
}

/// Creates single-partition topics whose records carry the broker's append time
/// (`message.timestamp.type=LogAppendTime`): the latency figure reads it as the ack time.
pub(crate) async fn create_log_append_topics(
    brokers: &str,
    topics: &[String],
) -> Result<(), BenchError> {
    let admin = admin(brokers)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(t, 1, TopicReplication::Fixed(1))
                .set("message.timestamp.type", "LogAppendTime")
        })
        .collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await? {
        result.map_err(|(topic, e)| format!("create topic {topic}: {e}"))?;
    }
    Ok(())
}

/// Deletes the run's topics (best effort).
pub(crate) async fn delete_topics(brokers: &str, topics: &[String]) -> Result<(), BenchError> {
    let admin = admin(brokers)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let _ = admin.delete_topics(&names, &AdminOptions::new()).await?;
    Ok(())
}

/// The records in `topic` (its only partition's high watermark); 0 when it does not exist yet.
pub(crate) fn count(consumer: &BaseConsumer, topic: &str) -> u64 {
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .map_or(0, |(low, high)| u64::try_from(high - low).unwrap_or(0))
}

/// A consumer for [`count`].
pub(crate) fn counter(brokers: &str) -> Result<BaseConsumer, BenchError> {
    consumer(brokers)
}

/// Waits until `topic` holds `expected` records, ticking `bar`; fails after `timeout` without
/// progress. Returns when the count was first seen.
pub(crate) async fn wait_for_count(
    consumer: &BaseConsumer,
    topic: &str,
    expected: u64,
    bar: &ProgressBar,
    stall: Duration,
) -> Result<Instant, BenchError> {
    let mut last = (0, Instant::now());
    loop {
        let n = count(consumer, topic);
        bar.set_position(n.min(expected));
        if n >= expected {
            return Ok(Instant::now());
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > stall {
            return Err(
                format!("{topic}: {n} of {expected} records, no progress for {stall:?}").into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `expected` records of `topic` and returns, per record, the broker's append time (ms)
/// minus the commit time of the transaction that wrote its row (`commits`: row id → epoch ms).
pub(crate) fn latencies_ms(
    brokers: &str,
    topic: &str,
    expected: usize,
    commits: &HashMap<i64, f64>,
) -> Result<Vec<f64>, BenchError> {
    let consumer = consumer(brokers)?;
    consumer.subscribe(&[topic])?;
    let mut out = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(120);
    while out.len() < expected {
        if Instant::now() > deadline {
            return Err(format!("{topic}: read {} of {expected} records", out.len()).into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let Timestamp::LogAppendTime(appended) = message.timestamp() else {
            return Err(format!("{topic}: records without LogAppendTime").into());
        };
        let key: serde_json::Value = serde_json::from_slice(message.key().unwrap_or(b"null"))?;
        let Some(committed) = key["id"].as_i64().and_then(|id| commits.get(&id)) else {
            return Err(format!("{topic}: a record with an unknown key {key}").into());
        };
        #[allow(clippy::cast_precision_loss, reason = "epoch milliseconds")]
        out.push(appended as f64 - committed);
    }
    Ok(out)
}
