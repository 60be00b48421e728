//! Debezium's MariaDB connector in Kafka Connect standalone (the `debezium` service of
//! `make up DEBEZIUM=1`), driven through Connect's REST API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::BenchError;

/// One registered connector.
pub(crate) struct Connector {
    name: String,
    base: String,
    http: reqwest::Client,
}

impl Connector {
    /// `POST /connectors`, then waits until its task runs.
    pub(crate) async fn register(
        base: &str,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Self, BenchError> {
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{base}/connectors"))
            .json(&json!({"name": name, "config": config}))
            .send()
            .await?;
        if !resp.status().is_success() {
            let status = resp.status();
            return Err(format!("POST /connectors {name}: {status} {}", resp.text().await?).into());
        }
        let connector = Self {
            name: name.to_owned(),
            base: base.to_owned(),
            http,
        };
        connector.wait_state("RUNNING").await?;
        Ok(connector)
    }

    async fn status(&self) -> Result<Json, BenchError> {
        let url = format!("{}/connectors/{}/status", self.base, self.name);
        Ok(self.http.get(url).send().await?.json().await?)
    }

    /// The connector's version as Connect reports it (`3.4.0.Final`).
    pub(crate) async fn version(&self) -> Result<String, BenchError> {
        Ok(self.status().await?["connector"]["version"]
            .as_str()
            .unwrap_or("?")
            .to_owned())
    }

    /// Fails with Connect's trace when the connector or its task failed.
    pub(crate) async fn check(&self) -> Result<(), BenchError> {
        let status = self.status().await?;
        let failed = status["connector"]["state"] == "FAILED"
            || status["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["state"] == "FAILED"));
        if failed {
            return Err(format!("Debezium connector {} failed: {status:#}", self.name).into());
        }
        Ok(())
    }

    async fn wait_state(&self, state: &str) -> Result<(), BenchError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.check().await?;
            let status = self.status().await?;
            let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
            if status["connector"]["state"] == state
                && !tasks.is_empty()
                && tasks.iter().all(|t| t["state"] == state)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Debezium connector {} not {state} after 60 s: {status}",
                    self.name
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn put(&self, action: &str, state: &str) -> Result<(), BenchError> {
        let url = format!("{}/connectors/{}/{action}", self.base, self.name);
        let resp = self.http.put(url).send().await?;
        if !resp.status().is_success() {
            return Err(format!("PUT {action} {}: {}", self.name, resp.status()).into());
        }
        self.wait_state(state).await
    }

    /// `PUT …/pause`: its task stops handing records to Kafka (its binlog reader fills its
    /// queue, `max.queue.size`, and waits).
    pub(crate) async fn pause(&self) -> Result<(), BenchError> {
        self.put("pause", "PAUSED").await
    }

    /// `PUT …/resume`.
    pub(crate) async fn resume(&self) -> Result<(), BenchError> {
        self.put("resume", "RUNNING").await
    }

    /// `DELETE /connectors/<name>`.
    pub(crate) async fn delete(self) -> Result<(), BenchError> {
        let url = format!("{}/connectors/{}", self.base, self.name);
        self.http.delete(url).send().await?;
        Ok(())
    }
}
