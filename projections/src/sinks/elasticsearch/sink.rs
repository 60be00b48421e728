//! [`ElasticsearchSink`]: `_mget` to load, `_bulk` with external versions to write.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{Body, Client, refused};
use super::config::ElasticsearchSinkConfig;
use super::{alias, bulk, mapping};
use crate::Result;
use crate::sink::{Change, Sink, Stored, WriteReport};

/// The parts of a `_bulk` reply the outcome needs: each item's status and error (the rest,
/// index, id, version, shards, ..., is left out of the reply).
const BULK_REPLY_FIELDS: &str = "errors,items.*.status,items.*.error";

/// Writes documents to one Elasticsearch index (or alias); see the [module](super).
#[derive(Debug, Clone)]
pub struct ElasticsearchSink {
    config: ElasticsearchSinkConfig,
    client: Client,
}

impl ElasticsearchSink {
    /// Checks the configuration and makes sure the index exists with a compatible mapping
    /// (creating it when missing): a sink that cannot work fails here, not at the first event.
    pub async fn build(config: ElasticsearchSinkConfig) -> Result<Self> {
        config.validate()?;
        let client = Client::new(&config.url, config.timeout())?;
        mapping::ensure_index(&client, &config.index, config.mapping.as_ref()).await?;
        Ok(Self { config, client })
    }

    /// Like [`build`](Self::build), but `index` is an alias: when it does not exist yet, a first
    /// generation `<index>-g<millis>` is created with the mapping and the alias pointed at it,
    /// so that [`rebuild_elasticsearch`](crate::rebuild_elasticsearch) can later switch it.
    pub async fn build_behind_alias(config: ElasticsearchSinkConfig) -> Result<Self> {
        config.validate()?;
        let client = Client::new(&config.url, config.timeout())?;
        if alias::target(&client, &config.index).await?.is_none() {
            let first = alias::generation_name(&config.index);
            mapping::ensure_index(&client, &first, config.mapping.as_ref()).await?;
            alias::switch(&client, &config.index, None, &first).await?;
        }
        Self::build(config).await
    }

    /// The index `alias` points to now, if it is an alias.
    pub(crate) async fn alias_target(&self) -> Result<Option<String>> {
        alias::target(&self.client, &self.config.index).await
    }

    /// Points this sink's alias (its `index`) at `new`, away from `old`, atomically, after
    /// refreshing `new` so readers see all of it at once.
    pub(crate) async fn switch_alias(&self, old: Option<&str>, new: &str) -> Result<()> {
        alias::refresh(&self.client, new).await?;
        alias::switch(&self.client, &self.config.index, old, new).await
    }

    /// Deletes an index on this sink's node.
    pub(crate) async fn delete_index(&self, index: &str) -> Result<()> {
        alias::delete(&self.client, index).await
    }

    /// A fresh generation's index name for this sink's alias.
    pub(crate) fn next_generation(&self) -> String {
        alias::generation_name(&self.config.index)
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ElasticsearchSinkConfig {
        &self.config
    }
}

#[async_trait]
impl Sink for ElasticsearchSink {
    fn name(&self) -> &'static str {
        "elasticsearch"
    }

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Stored>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let reply = self
            .client
            .send(
                Method::POST,
                &format!("{}/_mget", self.config.index),
                Some(Body::Json(json!({ "ids": keys }))),
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(HashMap::new());
        }
        if !reply.status.is_success() {
            return Err(refused("reading documents", &reply));
        }
        let docs = reply.body["docs"].as_array().cloned().unwrap_or_default();
        Ok(docs
            .into_iter()
            .filter(|d| d["found"] == true)
            .filter_map(|mut d| {
                let key = d["_id"].as_str()?.to_owned();
                let version = d["_version"].as_u64()?;
                let doc = d.get_mut("_source").map(serde_json::Value::take);
                Some((key, Stored { version, doc }))
            })
            .collect())
    }

    async fn write(&self, changes: &[Change]) -> Result<WriteReport> {
        if changes.is_empty() {
            return Ok(WriteReport::default());
        }
        let refresh = if self.config.refresh {
            "wait_for"
        } else {
            "false"
        };
        let reply = self
            .client
            .send(
                Method::POST,
                &format!("_bulk?refresh={refresh}&filter_path={BULK_REPLY_FIELDS}"),
                Some(Body::NdJson(bulk::body(&self.config.index, changes))),
            )
            .await?;
        if !reply.status.is_success() {
            return Err(refused("bulk write", &reply));
        }
        bulk::outcome(changes, &reply.body)
    }
}
