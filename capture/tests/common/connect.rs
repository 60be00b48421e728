//! Kafka Connect's REST API (the `debezium` service of `make up DEBEZIUM=1`): add a Debezium
//! connector, wait for it, delete it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keel_core::testing::stack;
use serde_json::{Value as Json, json};

/// One connector registered with the worker; [`Connector::delete`] removes it.
pub struct Connector {
    pub name: String,
    base: String,
    http: reqwest::Client,
}

impl Connector {
    /// `POST /connectors` with `config`, then waits until its task runs (or panics with the
    /// task's trace when it failed).
    pub async fn register(name: &str, config: &BTreeMap<String, String>) -> Self {
        let base = stack::connect().require().url;
        let http = reqwest::Client::new();
        let body = json!({"name": name, "config": config});
        let resp = http
            .post(format!("{base}/connectors"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(
            status.is_success(),
            "POST /connectors {name}: {status} {text}"
        );
        let connector = Self {
            name: name.to_owned(),
            base,
            http,
        };
        connector.wait_running().await;
        connector
    }

    async fn status(&self) -> Json {
        let resp = self
            .http
            .get(format!("{}/connectors/{}/status", self.base, self.name))
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap_or(Json::Null)
    }

    /// Panics when the connector or its task failed, with Connect's trace.
    pub async fn assert_healthy(&self) {
        let status = self.status().await;
        let failed = status["connector"]["state"] == "FAILED"
            || status["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["state"] == "FAILED"));
        assert!(
            !failed,
            "Debezium connector {} failed: {status:#}",
            self.name
        );
    }

    async fn wait_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.assert_healthy().await;
            let status = self.status().await;
            if status["tasks"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["state"] == "RUNNING"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Debezium connector {} not running after 60 s: {status:#}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `DELETE /connectors/<name>`.
    pub async fn delete(self) {
        let resp = self
            .http
            .delete(format!("{}/connectors/{}", self.base, self.name))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "DELETE connector {}: {}",
            self.name,
            resp.status()
        );
    }
}
