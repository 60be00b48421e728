//! The baselines: the coordinator's and the participants' PostgreSQL writes done directly with
//! sqlx (the same statements on tables `LIKE` the saga store's), and the same writes with the
//! same Kafka hops (command out, reply back, per step) done with rdkafka directly: no saga
//! logic, no loads, no inbox reads, no envelopes or tracing.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use keel_sagas::SagaState;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::observed::Finished;
use crate::BenchError;

/// Messages each raw consumer handles at once: keel-core's consumer default.
const IN_FLIGHT: usize = keel_core::kafka::ConsumerConfig::DEFAULT_MAX_IN_FLIGHT;

/// The raw tables, next to the saga store's in the run's database.
const INSTANCES: &str = "keel_bench_raw_instances";
const INBOX: &str = "keel_bench_raw_inbox";

/// The coordinator's and participants' writes, done directly.
#[derive(Debug)]
pub(crate) struct RawWrites {
    pool: PgPool,
    /// A stored instance body of the same saga, written as every raw body.
    body: String,
}

impl RawWrites {
    /// Creates the raw tables (`LIKE` the saga store's, with their keys and indexes).
    pub(crate) async fn create(pool: PgPool, body: String) -> Result<Self, BenchError> {
        for (raw, like) in [
            (INSTANCES, "keel_saga_instances"),
            (INBOX, "keel_saga_inbox"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE {raw} (LIKE {like} INCLUDING ALL)"
            )))
            .execute(&pool)
            .await?;
        }
        Ok(Self { pool, body })
    }

    /// The start's write: a new running instance at version 1.
    pub(crate) async fn insert(&self, saga_id: &str) -> Result<(), BenchError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {INSTANCES} (saga_type, saga_id, state, current_step, deadline_us, \
             version, body) VALUES ($1, $2, 'running', 0, $3, 1, $4::jsonb) ON CONFLICT DO NOTHING"
        )))
        .bind("raw")
        .bind(saga_id)
        .bind(deadline_us())
        .bind(&self.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A transition's write: the whole row at `version`, guarded by `version - 1`.
    pub(crate) async fn update(
        &self,
        saga_id: &str,
        version: i64,
        state: SagaState,
    ) -> Result<(), BenchError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {INSTANCES} SET state = $3, current_step = $4, deadline_us = $5, \
             version = $6, body = $7::jsonb, updated_at = now() \
             WHERE saga_type = $1 AND saga_id = $2 AND version = $8"
        )))
        .bind("raw")
        .bind(saga_id)
        .bind(state.as_str())
        .bind(i32::try_from(version).unwrap_or(0))
        .bind(state.is_active().then(deadline_us))
        .bind(version)
        .bind(&self.body)
        .bind(version - 1)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Err(format!("raw update of {saga_id} to version {version} hit no row").into());
        }
        Ok(())
    }

    /// A participant's inbox row.
    pub(crate) async fn inbox(&self, participant: &str, key: &str) -> Result<(), BenchError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {INBOX} (participant, idempotency_key, outcome) \
             VALUES ($1, $2, '{{\"status\":\"success\",\"data\":null}}'::jsonb) \
             ON CONFLICT DO NOTHING"
        )))
        .bind(participant)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every write of a saga of `steps` steps, one after the other, as the coordinator and its
    /// participants make them: the insert, then per step an inbox row and an update; with
    /// `compensations`, the failing step's update and per compensation an inbox row and an
    /// update.
    pub(crate) async fn saga(
        &self,
        saga_id: &str,
        steps: usize,
        compensations: usize,
    ) -> Result<(), BenchError> {
        self.insert(saga_id).await?;
        let mut version = 1;
        let last = steps + compensations;
        for step in 0..last {
            self.inbox("raw", &format!("{saga_id}:{step}")).await?;
            version += 1;
            let state = match (step + 1 == last, compensations) {
                (true, 0) => SagaState::Completed,
                (true, _) => SagaState::Compensated,
                (false, 0) => SagaState::Running,
                (false, _) if step + 1 < steps => SagaState::Running,
                (false, _) => SagaState::Compensating,
            };
            self.update(saga_id, version, state).await?;
        }
        Ok(())
    }
}

fn deadline_us() -> i64 {
    Utc::now().timestamp_micros() + 30_000_000
}

/// A raw command or reply: the saga and step, and filler the size of a command envelope.
#[derive(Debug, Serialize, Deserialize)]
struct RawMessage {
    saga_id: String,
    step: usize,
    filler: String,
}

/// Kafka produce→consume round trips with the writes: the baseline of the whole pipeline.
pub(crate) struct RawPipeline {
    producer: FutureProducer,
    writes: Arc<RawWrites>,
    command_topic: String,
    filler: String,
    tasks: Vec<JoinHandle<()>>,
}

/// The producer settings of keel-sagas' Kafka transport: idempotent, `acks=all`.
fn producer(brokers: &str) -> Result<FutureProducer, BenchError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?)
}

fn consumer(brokers: &str, group: &str, topic: &str) -> Result<StreamConsumer, BenchError> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

async fn send(
    producer: &FutureProducer,
    topic: &str,
    message: &RawMessage,
) -> Result<(), BenchError> {
    let payload = serde_json::to_vec(message)?;
    producer
        .send(
            FutureRecord::to(topic)
                .key(&message.saga_id)
                .payload(&payload),
            std::time::Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| format!("raw produce to {topic}: {e}"))?;
    Ok(())
}

/// Where a raw pipeline runs.
pub(crate) struct RawTopics<'a> {
    /// Kafka bootstrap servers.
    pub(crate) brokers: &'a str,
    /// Where commands go.
    pub(crate) commands: &'a str,
    /// Where replies go.
    pub(crate) replies: &'a str,
    /// The consumer groups' prefix.
    pub(crate) group: &'a str,
    /// Consumers per group (one per partition).
    pub(crate) consumers: usize,
}

impl RawPipeline {
    /// Starts `topics.consumers` echoing participants (inbox row, reply) and as many reply
    /// consumers (update, next command or end) for sagas of `steps` steps.
    pub(crate) fn start(
        topics: &RawTopics<'_>,
        steps: usize,
        filler_len: usize,
        writes: Arc<RawWrites>,
        finished: mpsc::UnboundedSender<Finished>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<Self, BenchError> {
        let producer = producer(topics.brokers)?;
        let mut tasks = Vec::new();
        for _ in 0..topics.consumers {
            let consumer = consumer(
                topics.brokers,
                &format!("{}-participant", topics.group),
                topics.commands,
            )?;
            let echo = Echo {
                producer: producer.clone(),
                replies: topics.replies.to_owned(),
                writes: Arc::clone(&writes),
            };
            tasks.push(tokio::spawn(serve(
                consumer,
                shutdown.clone(),
                IN_FLIGHT,
                move |m| {
                    let echo = echo.clone();
                    async move { echo.handle(m).await }
                },
            )));
            let consumer = consumer_for_replies(topics)?;
            let next = Next {
                producer: producer.clone(),
                commands: topics.commands.to_owned(),
                writes: Arc::clone(&writes),
                finished: finished.clone(),
                steps,
            };
            tasks.push(tokio::spawn(serve(
                consumer,
                shutdown.clone(),
                IN_FLIGHT,
                move |m| {
                    let next = next.clone();
                    async move { next.handle(m).await }
                },
            )));
        }
        Ok(Self {
            producer,
            writes,
            command_topic: topics.commands.to_owned(),
            filler: "x".repeat(filler_len),
            tasks,
        })
    }

    /// Starts one raw saga: its insert, then its first command.
    pub(crate) async fn start_saga(&self, saga_id: String) -> Result<(), BenchError> {
        self.writes.insert(&saga_id).await?;
        let first = RawMessage {
            saga_id,
            step: 0,
            filler: self.filler.clone(),
        };
        send(&self.producer, &self.command_topic, &first).await
    }

    /// Waits for its consumers to stop (after the shutdown signal).
    pub(crate) async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn consumer_for_replies(topics: &RawTopics<'_>) -> Result<StreamConsumer, BenchError> {
    consumer(
        topics.brokers,
        &format!("{}-coordinator", topics.group),
        topics.replies,
    )
}

/// A raw participant: records the command in its inbox table and replies.
#[derive(Clone)]
struct Echo {
    producer: FutureProducer,
    replies: String,
    writes: Arc<RawWrites>,
}

impl Echo {
    async fn handle(&self, message: RawMessage) -> Result<(), BenchError> {
        let key = format!("{}:{}", message.saga_id, message.step);
        self.writes.inbox("raw", &key).await?;
        send(&self.producer, &self.replies, &message).await
    }
}

/// A raw coordinator: records the step's end, then sends the next command or reports the end.
#[derive(Clone)]
struct Next {
    producer: FutureProducer,
    commands: String,
    writes: Arc<RawWrites>,
    finished: mpsc::UnboundedSender<Finished>,
    steps: usize,
}

impl Next {
    async fn handle(&self, message: RawMessage) -> Result<(), BenchError> {
        let last = message.step + 1 == self.steps;
        let state = if last {
            SagaState::Completed
        } else {
            SagaState::Running
        };
        let version = i64::try_from(message.step)? + 2;
        self.writes.update(&message.saga_id, version, state).await?;
        if last {
            let _ = self.finished.send(Finished {
                saga_id: message.saga_id,
                state,
                at: Instant::now(),
            });
            return Ok(());
        }
        let next = RawMessage {
            step: message.step + 1,
            ..message
        };
        send(&self.producer, &self.commands, &next).await
    }
}

/// Handles the consumer's messages until shutdown, up to `in_flight` at once (as keel-core's
/// consumer does with its default `max_in_flight`; a raw saga has one message in flight, so
/// no two messages of one saga meet here). Offsets are auto-committed by librdkafka.
async fn serve<H, Fut>(
    consumer: StreamConsumer,
    mut shutdown: watch::Receiver<bool>,
    in_flight: usize,
    handle: H,
) where
    H: Fn(RawMessage) -> Fut,
    Fut: Future<Output = Result<(), BenchError>>,
{
    let mut running = FuturesUnordered::new();
    loop {
        // The borrowed message is not Send: decode it before the next await.
        let message = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            Some(done) = running.next(), if !running.is_empty() => {
                if let Err(e) = done {
                    eprintln!("sagas: raw pipeline: {e}");
                }
                continue;
            }
            received = consumer.recv(), if running.len() < in_flight => match received {
                Ok(m) => serde_json::from_slice::<RawMessage>(m.payload().unwrap_or_default()),
                Err(e) => {
                    eprintln!("sagas: raw consumer: {e}");
                    continue;
                }
            },
        };
        match message {
            Ok(message) => running.push(handle(message)),
            Err(e) => eprintln!("sagas: raw pipeline: undecodable message: {e}"),
        }
    }
}
