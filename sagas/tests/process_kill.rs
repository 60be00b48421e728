//! Crash recovery with a real process kill: a child process runs the coordinator (PostgreSQL
//! state, Kafka between it and the participants, which run in this process); it is killed with
//! SIGKILL while sagas are in flight, a new child resumes them, and every saga completes with
//! no command executed twice.
#![cfg(feature = "integration")]

mod common;

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use common::{Executions, order_saga, unique};
use keel_core::testing::stack;
use keel_sagas::kafka::{KafkaSagaConfig, KafkaTransport, consume_replies, serve_participant};
use keel_sagas::store::{PostgresSagaStore, SagaStore};
use keel_sagas::{CommandEnvelope, Coordinator, CoordinatorConfig, Participant, SagaState};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::json;

const CHILD: &str = "KEEL_SAGA_KILL_CHILD";
const SAGAS: usize = 10;

fn config_from_env() -> (KafkaSagaConfig, String, String) {
    let var = |k: &str| std::env::var(k).expect(k);
    let config = KafkaSagaConfig::new(
        var("KEEL_KAFKA_BROKERS_T"),
        var("KEEL_CMD_PREFIX"),
        var("KEEL_REPLIES"),
    )
    // A killed member keeps the reply partition until its session expires (default 45 s,
    // longer than the steps' retries): expire it fast.
    .with_consumer_property("session.timeout.ms", "6000")
    .with_consumer_property("heartbeat.interval.ms", "1000");
    (config, var("KEEL_SAGA_TYPE"), var("KEEL_REPLY_GROUP"))
}

/// Kills the child process when dropped, so a failing assertion does not leave it running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The coordinator process; run only by `coordinator_killed_mid_saga_resumes_in_a_new_process`
/// (it re-executes this test binary with this test selected and the environment set).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the child process of coordinator_killed_mid_saga_resumes_in_a_new_process"]
async fn coordinator_process() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let (config, saga_type, group) = config_from_env();
    let store = PostgresSagaStore::connect(&stack::postgres().url)
        .await
        .expect("postgres");
    let coordinator = Arc::new(
        Coordinator::new(
            store,
            KafkaTransport::new(config.clone()).expect("transport"),
        )
        .with_config(CoordinatorConfig::default().tick(Duration::from_millis(50)))
        .register(order_saga(&saga_type))
        .expect("saga"),
    );
    if let Ok(ids) = std::env::var("KEEL_START") {
        for id in ids.split(',').filter(|s| !s.is_empty()) {
            coordinator
                .start(&saga_type, id, json!({ "total_cents": 1 }))
                .await
                .expect("start");
        }
    }
    let deadlines = {
        let coordinator = Arc::clone(&coordinator);
        tokio::spawn(async move { coordinator.run_deadlines(std::future::pending()).await })
    };
    // Runs until killed; the sleep only bounds a child whose parent died.
    let _ = tokio::time::timeout(
        Duration::from_secs(120),
        consume_replies(coordinator, &config, &group, std::future::pending::<()>()),
    )
    .await;
    deadlines.abort();
}

fn spawn_child(
    config: &KafkaSagaConfig,
    saga_type: &str,
    group: &str,
    start: &[String],
) -> KillOnDrop {
    KillOnDrop(
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "coordinator_process", "--ignored", "--nocapture"])
            .env(CHILD, "1")
            .env("KEEL_KAFKA_BROKERS_T", &config.bootstrap_servers)
            .env("KEEL_CMD_PREFIX", &config.command_topic_prefix)
            .env("KEEL_REPLIES", &config.reply_topic)
            .env("KEEL_SAGA_TYPE", saga_type)
            .env("KEEL_REPLY_GROUP", group)
            .env("KEEL_START", start.join(","))
            .spawn()
            .expect("spawn the coordinator process"),
    )
}

async fn create_topics(brokers: &str, topics: &[String]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    for result in admin
        .create_topics(&new, &AdminOptions::new())
        .await
        .expect("create topics")
    {
        result.expect("topic created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn coordinator_killed_mid_saga_resumes_in_a_new_process() {
    let brokers = stack::kafka().require().url;
    let store = PostgresSagaStore::connect(&stack::postgres().require().url)
        .await
        .expect("postgres");
    let config = KafkaSagaConfig::new(
        &brokers,
        format!("{}.", unique("kill-cmd", '-')),
        unique("kill-replies", '-'),
    );
    let mut topics: Vec<String> = ["inventory", "payment", "shipping"]
        .iter()
        .map(|p| config.command_topic(p))
        .collect();
    topics.push(config.reply_topic.clone());
    create_topics(&brokers, &topics).await;
    let saga_type = unique("killed", '-');
    let group = unique("kill-coordinator", '-');
    let ids: Vec<String> = (0..SAGAS).map(|n| format!("o-{n}")).collect();

    // Participants live here and survive the kill; payment takes its time to reply.
    let exec = Executions::default();
    for name in ["inventory", "payment", "shipping"] {
        let exec = exec.clone();
        let handler = move |command: CommandEnvelope| {
            let exec = exec.clone();
            async move {
                let outcome = exec.execute(&command);
                if command.command_type == "Capture" {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(outcome)
            }
        };
        let participant = Arc::new(Participant::new(name, handler, store.clone()));
        let (config, group) = (config.clone(), unique(name, '-'));
        tokio::spawn(async move {
            serve_participant(participant, &config, &group, std::future::pending::<()>()).await
        });
    }

    let mut first = spawn_child(&config, &saga_type, &group, &ids);
    let in_flight = async {
        while ids.iter().all(|id| exec.count("Capture", id) == 0) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), in_flight)
        .await
        .expect("a payment is in flight within 60 s");
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("reaped");
    let active = store.in_flight(&saga_type).await.expect("in flight").len();
    assert!(active > 0, "the kill landed mid-saga");

    let second = spawn_child(&config, &saga_type, &group, &[]);
    let finished = async {
        loop {
            let mut done = 0;
            for id in &ids {
                if let Some(saga) = store.load(&saga_type, id).await.expect("load")
                    && !saga.state.is_active()
                {
                    assert_eq!(saga.state, SagaState::Completed, "{saga:?}");
                    done += 1;
                }
            }
            if done == SAGAS {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(90), finished).await;
    drop(second);
    outcome.expect("every saga finishes within 90 s of the restart");
    for id in &ids {
        for command in ["Reserve", "Capture", "Ship"] {
            assert_eq!(exec.count(command, id), 1, "{command} of {id}");
        }
    }
    assert_eq!(exec.max_per_command(), 1);
}
