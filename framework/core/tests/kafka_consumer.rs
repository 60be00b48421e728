//! The consumer helper against the real Kafka of the local stack (`make up`;
//! `KEEL_KAFKA_BROKERS`, default `127.0.0.1:9092`): dead letters, retries, commits only up to
//! the first unfinished message, per-key order under concurrency, and re-delivery after a real
//! process kill.
#![cfg(feature = "integration")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    Switch, bounded, committed_offset, consumer_config, create_topics, fire, header_map, produce,
    producer, read_records, record_count, require_kafka, shutdown_switch, unique,
};
use keel_core::kafka::{
    ConsumedMessage, ConsumerConfig, HandlerError, KafkaConsumer, ProcessingOrder, headers,
};
use rdkafka::Message;
use tokio::sync::{mpsc, oneshot};

// ---------------------------------------------------------------------------------------------
// Retries, dead letters, commits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_permanent_failure_goes_to_the_dead_letter_topic_and_the_next_message_is_handled() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("dlq");
        let dlq = format!("{topic}.dlq");
        create_topics(&brokers, &[&topic, &dlq]).await;
        let producer = producer(&brokers);
        produce(&producer, &topic, "k-bad", "poison").await;
        produce(&producer, &topic, "k-good", "fine").await;

        let (handled_tx, mut handled) = mpsc::unbounded_channel::<String>();
        let handler = move |m: ConsumedMessage| {
            let handled_tx = handled_tx.clone();
            async move {
                match m.payload_str() {
                    Some("poison") => Err(HandlerError::permanent("cannot parse `poison`")),
                    other => {
                        handled_tx
                            .send(other.unwrap_or_default().to_owned())
                            .unwrap();
                        Ok(())
                    }
                }
            }
        };
        let consumer =
            KafkaConsumer::new(consumer_config(&brokers, &unique("group"), &topic)).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(consumer.run(handler, stopped));

        assert_eq!(
            handled.recv().await.unwrap(),
            "fine",
            "the next message is still handled"
        );
        // Different keys run concurrently: the dead letter may land after `fine` was handled.
        let letters = read_records(&brokers, &dlq, 1).await;
        stop.send(()).unwrap();
        running.await.unwrap().unwrap();

        let letter = &letters[0];
        assert_eq!(letter.key(), Some(&b"k-bad"[..]));
        assert_eq!(letter.payload(), Some(&b"poison"[..]));
        let h = header_map(letter);
        assert_eq!(h[headers::ERROR], "cannot parse `poison`");
        assert_eq!(h[headers::ERROR_ATTEMPTS], "1");
        assert_eq!(h[headers::ORIGINAL_TOPIC], topic);
        assert_eq!(h[headers::ORIGINAL_PARTITION], "0");
        assert_eq!(h[headers::ORIGINAL_OFFSET], "0");
        assert_eq!(h["x-origin"], "test", "the original headers are kept");
        assert_eq!(record_count(&brokers, &dlq), 1);
    })
    .await;
}

#[tokio::test]
async fn a_retryable_failure_that_clears_on_the_third_attempt_is_handled_once_without_dead_letter()
{
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("retry");
        let dlq = format!("{topic}.dlq");
        create_topics(&brokers, &[&topic, &dlq]).await;
        produce(&producer(&brokers), &topic, "k", "flaky").await;

        let attempts = Arc::new(AtomicU32::new(0));
        let successes = Arc::new(AtomicU32::new(0));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (attempts, successes, stop) = (attempts.clone(), successes.clone(), stop.clone());
            move |_: ConsumedMessage| {
                let (attempts, successes, stop) =
                    (attempts.clone(), successes.clone(), stop.clone());
                async move {
                    if attempts.fetch_add(1, Ordering::SeqCst) + 1 < 3 {
                        return Err(HandlerError::retryable("database busy"));
                    }
                    successes.fetch_add(1, Ordering::SeqCst);
                    fire(&stop);
                    Ok(())
                }
            }
        };
        let consumer =
            KafkaConsumer::new(consumer_config(&brokers, &unique("group"), &topic)).unwrap();
        consumer.run(handler, stopped).await.unwrap();

        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert_eq!(successes.load(Ordering::SeqCst), 1);
        assert_eq!(record_count(&brokers, &dlq), 0, "no dead letter");
    })
    .await;
}

#[tokio::test]
async fn offsets_are_committed_only_after_handling_so_a_new_member_resumes_after_the_last_handled()
{
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("commit");
        create_topics(&brokers, &[&topic]).await;
        let producer = producer(&brokers);
        for n in 1..=6 {
            produce(&producer, &topic, "k", &format!("m{n}")).await;
        }
        let group = unique("group");

        // The first member handles m1..m3; m4 fails (retryable) and the member stops during
        // the backoff, so m4 was never handled and must not be committed.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (seen, stop) = (seen.clone(), stop.clone());
            move |m: ConsumedMessage| {
                let (seen, stop) = (seen.clone(), stop.clone());
                async move {
                    let payload = m.payload_str().unwrap_or_default().to_owned();
                    if payload == "m4" {
                        fire(&stop);
                        return Err(HandlerError::retryable("not now"));
                    }
                    seen.lock().unwrap().push(payload);
                    Ok(())
                }
            }
        };
        KafkaConsumer::new(consumer_config(&brokers, &group, &topic))
            .unwrap()
            .run(handler, stopped)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), ["m1", "m2", "m3"]);

        // A new member of the same group starts at m4: after the last handled message.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = shutdown_switch();
        let handler = {
            let (seen, stop) = (seen.clone(), stop.clone());
            move |m: ConsumedMessage| {
                let (seen, stop) = (seen.clone(), stop.clone());
                async move {
                    let payload = m.payload_str().unwrap_or_default().to_owned();
                    if payload == "m6" {
                        fire(&stop);
                    }
                    seen.lock().unwrap().push(payload);
                    Ok::<(), HandlerError>(())
                }
            }
        };
        KafkaConsumer::new(consumer_config(&brokers, &group, &topic))
            .unwrap()
            .run(handler, stopped)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), ["m4", "m5", "m6"]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Concurrency and order
// ---------------------------------------------------------------------------------------------

/// Produces `per_key` messages for each of `keys` keys, interleaved (`k0:0`, `k1:0`, …,
/// `k0:1`, …), to `topic` (one partition); key `k<i>`, payload `k<i>:<n>`.
async fn produce_interleaved(brokers: &str, topic: &str, keys: usize, per_key: usize) {
    let producer = producer(brokers);
    for n in 0..per_key {
        for k in 0..keys {
            produce(&producer, topic, &format!("k{k}"), &format!("k{k}:{n}")).await;
        }
    }
}

/// What a [`Recorder`] saw.
#[derive(Default)]
struct Seen {
    /// `(key, n)` in the order the calls ended.
    order: Mutex<Vec<(String, usize)>>,
    /// Keys with a call running.
    running: Mutex<Vec<String>>,
    /// The most calls running at once.
    max_running: AtomicUsize,
    /// Calls that started while another call of the same key ran.
    overlaps: AtomicUsize,
}

/// A handler that takes a while per message and records order and concurrency; fires `stop`
/// after `total` messages.
struct Recorder {
    seen: Arc<Seen>,
    total: usize,
    stop: Switch,
}

#[async_trait::async_trait]
impl keel_core::kafka::MessageHandler for Recorder {
    async fn handle(&self, message: &ConsumedMessage) -> Result<(), HandlerError> {
        let payload = message.payload_str().unwrap_or_default();
        let (key, n) = payload.split_once(':').expect("key:n");
        let n: usize = n.parse().expect("a number");
        {
            let mut running = self.seen.running.lock().expect("lock");
            if running.iter().any(|k| k == key) {
                self.seen.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            running.push(key.to_owned());
            self.seen
                .max_running
                .fetch_max(running.len(), Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
        {
            let mut running = self.seen.running.lock().expect("lock");
            let at = running.iter().position(|k| k == key).expect("running");
            running.remove(at);
        }
        let mut order = self.seen.order.lock().expect("lock");
        order.push((key.to_owned(), n));
        if order.len() == self.total {
            fire(&self.stop);
        }
        Ok(())
    }
}

/// Runs a consumer in `order` over `keys` × `per_key` interleaved messages until all are handled.
async fn record_a_run(order: ProcessingOrder, keys: usize, per_key: usize) -> Arc<Seen> {
    let brokers = require_kafka();
    let topic = unique("order");
    create_topics(&brokers, &[&topic]).await;
    produce_interleaved(&brokers, &topic, keys, per_key).await;
    let seen = Arc::new(Seen::default());
    let (stop, stopped) = shutdown_switch();
    let recorder = Recorder {
        seen: Arc::clone(&seen),
        total: keys * per_key,
        stop,
    };
    let config = consumer_config(&brokers, &unique("group"), &topic).with_processing_order(order);
    KafkaConsumer::new(config)
        .expect("consumer")
        .run(recorder, stopped)
        .await
        .expect("run");
    seen
}

#[tokio::test]
async fn one_keys_messages_run_in_order_while_different_keys_run_concurrently() {
    bounded(async {
        let (keys, per_key) = (4, 10);
        let seen = record_a_run(ProcessingOrder::Key, keys, per_key).await;
        assert_eq!(
            seen.overlaps.load(Ordering::SeqCst),
            0,
            "a key never ran twice at once"
        );
        let order = seen.order.lock().unwrap();
        for k in 0..keys {
            let key = format!("k{k}");
            let of_key: Vec<usize> = order
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(
                of_key,
                (0..per_key).collect::<Vec<_>>(),
                "{key} in offset order"
            );
        }
        let max = seen.max_running.load(Ordering::SeqCst);
        assert!(
            max > 1,
            "different keys ran concurrently (at most {max} at once)"
        );
        assert!(max <= keys, "at most one call per key at once, {max} ran");
    })
    .await;
}

#[tokio::test]
async fn partition_order_handles_a_partition_one_message_at_a_time_in_offset_order() {
    bounded(async {
        let (keys, per_key) = (3, 5);
        let seen = record_a_run(ProcessingOrder::Partition, keys, per_key).await;
        assert_eq!(seen.max_running.load(Ordering::SeqCst), 1);
        let order = seen.order.lock().unwrap();
        let produced: Vec<(String, usize)> = (0..per_key)
            .flat_map(|n| (0..keys).map(move |k| (format!("k{k}"), n)))
            .collect();
        assert_eq!(*order, produced);
    })
    .await;
}

#[tokio::test]
async fn no_offset_is_committed_past_a_message_still_running() {
    let brokers = require_kafka();
    bounded(async {
        let topic = unique("running");
        create_topics(&brokers, &[&topic]).await;
        let producer = producer(&brokers);
        for (key, payload) in [("a", "m0"), ("b", "m1"), ("c", "m2"), ("d", "m3")] {
            produce(&producer, &topic, key, payload).await;
        }
        let group = unique("group");
        let release = Arc::new(tokio::sync::Notify::new());
        let (handled_tx, mut handled) = mpsc::unbounded_channel::<String>();
        let handler = {
            let release = Arc::clone(&release);
            move |m: ConsumedMessage| {
                let (release, handled_tx) = (Arc::clone(&release), handled_tx.clone());
                async move {
                    let payload = m.payload_str().unwrap_or_default().to_owned();
                    if payload == "m1" {
                        release.notified().await;
                    }
                    handled_tx.send(payload).unwrap();
                    Ok::<(), HandlerError>(())
                }
            }
        };
        let mut config = consumer_config(&brokers, &group, &topic);
        config.commit_interval_ms = 20;
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(KafkaConsumer::new(config).unwrap().run(handler, stopped));

        let mut first = Vec::new();
        for _ in 0..3 {
            first.push(handled.recv().await.unwrap());
        }
        first.sort();
        assert_eq!(first, ["m0", "m2", "m3"], "m1 blocks only itself");
        // Many commit intervals later, the commit still stops at m1 (offset 1).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(committed_offset(&brokers, &group, &topic), Some(1));

        release.notify_one();
        assert_eq!(handled.recv().await.unwrap(), "m1");
        let mut committed = None;
        for _ in 0..100 {
            committed = committed_offset(&brokers, &group, &topic);
            if committed == Some(4) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            committed,
            Some(4),
            "once m1 is handled, the commit moves past m3"
        );
        stop.send(()).unwrap();
        running.await.unwrap().unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// A real process kill
// ---------------------------------------------------------------------------------------------

const CHILD: &str = "KEEL_CONSUMER_KILL_CHILD";

/// Kills the child process when dropped, so a failing assertion does not leave it running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A crash-test consumer with quick commits and a short session, so that a killed member's
/// partitions go to the next one within seconds.
fn crash_config(brokers: &str, group: &str, topic: &str) -> ConsumerConfig {
    let mut config = consumer_config(brokers, group, topic);
    config.commit_interval_ms = 20;
    config
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    config
        .properties
        .insert("heartbeat.interval.ms".into(), "1000".into());
    config
}

/// The consumer process of `a_killed_consumer_redelivers_what_it_had_not_finished`, which
/// re-executes this test binary with this test selected and `KEEL_CONSUMER_KILL_CHILD` set to
/// `<brokers> <group> <topic>`. It prints `handled <offset>` per handled message and never
/// finishes the message whose payload is `stuck`.
#[tokio::test]
#[ignore = "the child process of a_killed_consumer_redelivers_what_it_had_not_finished"]
async fn consumer_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let config = crash_config(parts[0], parts[1], parts[2]);
    let handler = |m: ConsumedMessage| async move {
        if m.payload_str() == Some("stuck") {
            std::future::pending::<()>().await;
        }
        #[allow(clippy::print_stdout, reason = "the parent test reads it")]
        {
            println!("handled {}", m.offset);
        }
        Ok::<(), HandlerError>(())
    };
    // Runs until killed; the timeout only bounds a child whose parent died.
    let consumer = KafkaConsumer::new(config).unwrap();
    let _ = tokio::time::timeout(
        Duration::from_secs(90),
        consumer.run(handler, std::future::pending::<()>()),
    )
    .await;
}

#[tokio::test]
async fn a_killed_consumer_redelivers_what_it_had_not_finished() {
    let brokers = require_kafka();
    let topic = unique("kill");
    let group = unique("group");
    let body = async {
        create_topics(&brokers, &[&topic]).await;
        let producer = producer(&brokers);
        for (key, payload) in [
            ("a", "first"),
            ("b", "stuck"),
            ("c", "third"),
            ("d", "fourth"),
        ] {
            produce(&producer, &topic, key, payload).await;
        }
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", "consumer_process", "--ignored", "--nocapture"])
                .env(CHILD, format!("{brokers} {group} {topic}"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn the consumer process"),
        );
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (lines_tx, mut lines) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut handled = Vec::new();
        while handled.len() < 3 {
            let line = lines
                .recv()
                .await
                .expect("the child handles three messages");
            if let Some(offset) = line.strip_prefix("handled ") {
                handled.push(offset.parse::<i64>().expect("an offset"));
            }
        }
        handled.sort_unstable();
        assert_eq!(
            handled,
            [0, 2, 3],
            "the stuck message (offset 1) holds back only itself"
        );
        // Many commit intervals later, the child has committed up to the stuck message only.
        for _ in 0..100 {
            if committed_offset(&brokers, &group, &topic).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(committed_offset(&brokers, &group, &topic), Some(1));

        drop(child); // SIGKILL: no shutdown, no final commit
        assert_eq!(committed_offset(&brokers, &group, &topic), Some(1));

        // The next member of the group (once the dead one's session expired) starts at the
        // stuck message: it and the ones after it come again, the handled one before it not.
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<i64>();
        let (stop, stopped) = shutdown_switch();
        let handler = move |m: ConsumedMessage| {
            let (seen_tx, stop) = (seen_tx.clone(), stop.clone());
            async move {
                seen_tx.send(m.offset).unwrap();
                if m.offset == 3 {
                    fire(&stop);
                }
                Ok::<(), HandlerError>(())
            }
        };
        KafkaConsumer::new(crash_config(&brokers, &group, &topic))
            .unwrap()
            .run(handler, stopped)
            .await
            .unwrap();
        let mut again = Vec::new();
        while let Ok(offset) = seen.try_recv() {
            again.push(offset);
        }
        again.sort_unstable();
        assert_eq!(again, [1, 2, 3]);
    };
    tokio::time::timeout(Duration::from_secs(90), body)
        .await
        .expect("the test timed out");
}
