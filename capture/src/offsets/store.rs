//! The configured offset store: a file, a Kafka topic or a PostgreSQL table, behind one
//! load/save contract (ADR 0042).

use super::{FileOffsetStore, KafkaOffsetStore, KafkaStoreSpec, Offset, PostgresOffsetStore};
use crate::Result;
use crate::config::{ConnectorConfig, OffsetStorage};

/// Where acknowledged offsets go. Every store has the same contract: [`save`](Self::save)
/// returns once the offset is durable, and [`load`](Self::load) returns the last one saved.
#[derive(Debug)]
#[non_exhaustive]
pub enum OffsetStore {
    /// `offset.storage.file.filename`.
    File(FileOffsetStore),
    /// `offset.storage.topic`.
    Kafka(KafkaOffsetStore),
    /// `offset.storage.jdbc.url`.
    Postgres(PostgresOffsetStore),
}

/// Client properties of `kafka.producer.*` that every Kafka client needs too.
pub(crate) fn client_properties(config: &ConnectorConfig) -> Vec<(String, String)> {
    config
        .producer_properties
        .iter()
        .filter(|(k, _)| {
            k.starts_with("security.")
                || k.starts_with("sasl.")
                || k.starts_with("ssl.")
                || k.as_str() == "client.id"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl OffsetStore {
    /// Opens the store `config` names (`offset.storage`): creates the Kafka topic or the
    /// PostgreSQL table when missing.
    pub async fn open(config: &ConnectorConfig) -> Result<Self> {
        Ok(match &config.offset_storage {
            OffsetStorage::File { path } => Self::File(FileOffsetStore::new(path)),
            OffsetStorage::Kafka {
                topic,
                partitions,
                replication_factor,
            } => Self::Kafka(
                KafkaOffsetStore::open(KafkaStoreSpec {
                    bootstrap_servers: &config.bootstrap_servers,
                    client_properties: client_properties(config),
                    topic,
                    partitions: *partitions,
                    replication_factor: *replication_factor,
                    connector: &config.name,
                    server: &config.topic_prefix,
                })
                .await?,
            ),
            OffsetStorage::Postgres { url, table } => {
                Self::Postgres(PostgresOffsetStore::open(url, table, &config.name).await?)
            }
        })
    }

    /// The last offset saved, `None` when there is none yet.
    pub async fn load(&self) -> Result<Option<Offset>> {
        match self {
            Self::File(s) => s.load(),
            Self::Kafka(s) => s.load().await,
            Self::Postgres(s) => s.load().await,
        }
    }

    /// Stores `offset` durably; returns once it is.
    pub async fn save(&self, offset: &Offset) -> Result<()> {
        match self {
            Self::File(s) => s.save(offset),
            Self::Kafka(s) => s.save(offset).await,
            Self::Postgres(s) => s.save(offset).await,
        }
    }
}
