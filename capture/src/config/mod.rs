//! The connector configuration: Kafka Connect connector JSON (`{"name": ..., "config": {...}}`)
//! with Debezium's property names. See `docs/capture.md` for every key.

mod filter;
mod modes;
mod storage;

pub use filter::TableFilter;
pub use modes::{
    BigintUnsignedHandlingMode, BinaryHandlingMode, DecimalHandlingMode, ErrorsTolerance,
    SnapshotMode, TimePrecisionMode,
};
use std::collections::BTreeMap;
pub use storage::{HistoryStorage, OffsetStorage};

use crate::{Error, Result};

/// How column values are represented; the `*.handling.mode` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handling {
    /// `decimal.handling.mode`.
    pub decimal: DecimalHandlingMode,
    /// `time.precision.mode`.
    pub time_precision: TimePrecisionMode,
    /// `bigint.unsigned.handling.mode`.
    pub bigint_unsigned: BigintUnsignedHandlingMode,
    /// `binary.handling.mode`.
    pub binary: BinaryHandlingMode,
}

impl Default for Handling {
    fn default() -> Self {
        Self {
            decimal: DecimalHandlingMode::Precise,
            time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
            bigint_unsigned: BigintUnsignedHandlingMode::Long,
            binary: BinaryHandlingMode::Bytes,
        }
    }
}

/// A parsed, validated connector configuration.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The connector's `name`.
    pub name: String,
    /// `database.hostname`.
    pub hostname: String,
    /// `database.port` (default 3306).
    pub port: u16,
    /// `database.user`.
    pub user: String,
    /// `database.password` (default empty).
    pub password: String,
    /// `database.server.id`: the replica server id capture registers with.
    pub server_id: u32,
    /// `topic.prefix`: topics are `<topic.prefix>.<db>.<table>`.
    pub topic_prefix: String,
    /// `database.include.list`, `table.include.list`, `table.exclude.list`.
    pub filter: TableFilter,
    /// `snapshot.mode` (default `no_data`).
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.fetch.size` (default 10000): rows per primary-key chunk of a snapshot.
    pub snapshot_fetch_size: u64,
    /// `max.batch.size` (default 2048): validated for compatibility; librdkafka does the
    /// batching (`kafka.producer.batch.size`, `kafka.producer.linger.ms`).
    pub max_batch_size: usize,
    /// `max.queue.size` (default 8192): events in flight (sent, not yet acknowledged).
    pub max_queue_size: usize,
    /// `poll.interval.ms` (default 500): how often acknowledged offsets are written.
    pub poll_interval_ms: u64,
    /// `include.schema.changes` (default true): DDL of captured databases as schema change
    /// events on the topic `<topic.prefix>`.
    pub include_schema_changes: bool,
    /// `provide.transaction.metadata` (default false): a `transaction` block in each event and
    /// BEGIN/END records on `<topic.prefix>.<topic.transaction>`.
    pub provide_transaction_metadata: bool,
    /// `topic.transaction` or its older name `transaction.topic` (default `transaction`).
    pub transaction_topic: String,
    /// `tombstones.on.delete` (default true).
    pub tombstones_on_delete: bool,
    /// `include.query` (default false): `source.query` carries the statement.
    pub include_query: bool,
    /// `kafka.bootstrap.servers` (alias `bootstrap.servers`; falls back to
    /// `schema.history.internal.kafka.bootstrap.servers`).
    pub bootstrap_servers: String,
    /// `errors.tolerance` (default `none`; `all` sends rows that fail to the dead-letter topic).
    pub errors_tolerance: ErrorsTolerance,
    /// `errors.deadletterqueue.topic.name` (default `<topic.prefix>.dlq`, ADR 0033).
    pub dead_letter_topic: String,
    /// `heartbeat.interval.ms` (default 0: no heartbeats).
    pub heartbeat_interval_ms: u64,
    /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`): heartbeats go to
    /// `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub heartbeat_topic_prefix: String,
    /// The `*.handling.mode` settings.
    pub handling: Handling,
    /// `key.converter.schemas.enable` (default false).
    pub key_schemas: bool,
    /// `value.converter.schemas.enable` (default false).
    pub value_schemas: bool,
    /// `offset.storage` and its keys: a file (default `<name>.offsets.json`), a Kafka topic or
    /// a PostgreSQL table.
    pub offset_storage: OffsetStorage,
    /// `schema.history.internal` and its keys: a file (default
    /// `<name>.schema-history.jsonl` beside the offsets file) or a Kafka topic.
    pub history_storage: HistoryStorage,
    /// `transforms` and `predicates`: the single message transforms, in order.
    pub transforms: crate::transforms::Chain,
    /// `kafka.producer.<property>`: extra librdkafka producer properties.
    pub producer_properties: BTreeMap<String, String>,
}

/// The keys a connector configuration may hold that we read.
const KNOWN: &[&str] = &[
    "connector.class",
    "tasks.max",
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.server.id",
    "topic.prefix",
    "database.include.list",
    "table.include.list",
    "table.exclude.list",
    "snapshot.mode",
    "snapshot.fetch.size",
    "max.batch.size",
    "max.queue.size",
    "poll.interval.ms",
    "include.schema.changes",
    "provide.transaction.metadata",
    "topic.transaction",
    "transaction.topic",
    "tombstones.on.delete",
    "include.query",
    "heartbeat.interval.ms",
    "topic.heartbeat.prefix",
    "errors.deadletterqueue.topic.name",
    "kafka.bootstrap.servers",
    "bootstrap.servers",
    "errors.tolerance",
    "decimal.handling.mode",
    "time.precision.mode",
    "bigint.unsigned.handling.mode",
    "binary.handling.mode",
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
];

const CONNECTOR_CLASSES: &[&str] = &[
    "io.debezium.connector.mariadb.MariaDbConnector",
    "io.debezium.connector.mysql.MySqlConnector",
];
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A connector configuration and the keys in it that nothing reads.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The configuration.
    pub config: ConnectorConfig,
    /// Keys we do not know, sorted; the caller logs them in one warning.
    pub unknown_keys: Vec<String>,
}

impl ConnectorConfig {
    /// Parses Kafka Connect connector JSON: `{"name": ..., "config": {...}}`. Values may be
    /// JSON strings (as Kafka Connect writes them), numbers or booleans.
    pub fn from_json(json: &str) -> Result<Parsed> {
        let doc: serde_json::Value =
            serde_json::from_str(json).map_err(|error| Error::ConfigFile {
                path: "<json>".into(),
                reason: error.to_string(),
            })?;
        let name = doc
            .get("name")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Error::MissingKey {
                key: "name".into(),
                hint: "the connector's name, a string at the top level".into(),
            })?;
        let config = doc
            .get("config")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| Error::MissingKey {
                key: "config".into(),
                hint: "an object of Debezium properties at the top level".into(),
            })?;
        let mut properties = BTreeMap::new();
        for (key, value) in config {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                other => {
                    return Err(Error::config(
                        key,
                        other.to_string(),
                        "a string, number or boolean",
                    ));
                }
            };
            properties.insert(key.clone(), text);
        }
        Self::from_properties(name, &properties)
    }

    /// Reads a connector JSON file (see [`from_json`](Self::from_json)).
    pub fn from_file(path: &std::path::Path) -> Result<Parsed> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::ConfigFile {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        Self::from_json(&text).map_err(|error| match error {
            Error::ConfigFile { reason, .. } => Error::ConfigFile {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Builds the configuration from Debezium properties.
    pub fn from_properties(name: &str, props: &BTreeMap<String, String>) -> Result<Parsed> {
        let get = |key: &str| props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |key: &str, hint: &str| {
            get(key)
                .map(str::to_owned)
                .ok_or_else(|| Error::MissingKey {
                    key: key.into(),
                    hint: hint.into(),
                })
        };

        if let Some(class) = get("connector.class")
            && !CONNECTOR_CLASSES.contains(&class)
        {
            return Err(Error::config(
                "connector.class",
                class,
                CONNECTOR_CLASSES.join(" or "),
            ));
        }
        if let Some(tasks) = get("tasks.max")
            && tasks != "1"
        {
            return Err(Error::config(
                "tasks.max",
                tasks,
                "1 (a binlog is read by one task)",
            ));
        }
        for key in ["key.converter", "value.converter"] {
            if let Some(conv) = get(key)
                && conv != JSON_CONVERTER
            {
                return Err(Error::config(key, conv, JSON_CONVERTER));
            }
        }
        let heartbeat_interval_ms =
            opt_u64(get("heartbeat.interval.ms"), "heartbeat.interval.ms", 0, 0)?;
        let transaction_topic = match (get("topic.transaction"), get("transaction.topic")) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::config(
                    "transaction.topic",
                    b,
                    format!("the same name as `topic.transaction` ({a}), or leave one out"),
                ));
            }
            (Some(a), _) | (None, Some(a)) => a.to_owned(),
            (None, None) => "transaction".to_owned(),
        };

        let topic_prefix = topic_name(
            "topic.prefix",
            required("topic.prefix", "the prefix of every topic name")?,
        )?;
        let bootstrap_servers = get("kafka.bootstrap.servers")
            .or_else(|| get("bootstrap.servers"))
            .or_else(|| get("schema.history.internal.kafka.bootstrap.servers"))
            .map(str::to_owned)
            .ok_or_else(|| Error::MissingKey {
                key: "kafka.bootstrap.servers".into(),
                hint: "the Kafka brokers, `host:port[,host:port]` (alias `bootstrap.servers`)"
                    .into(),
            })?;

        let server_id = match get("database.server.id") {
            Some(v) => u32::try_from(parse_u64("database.server.id", v, 1)?).map_err(|_| {
                Error::config("database.server.id", v, "an integer from 1 to 4294967295")
            })?,
            None => {
                return Err(Error::MissingKey {
                    key: "database.server.id".into(),
                    hint: "a replica server id unique among the server's replicas, e.g. 184054"
                        .into(),
                });
            }
        };
        let port = match get("database.port") {
            Some(v) => u16::try_from(parse_u64("database.port", v, 1)?)
                .map_err(|_| Error::config("database.port", v, "a TCP port from 1 to 65535"))?,
            None => 3306,
        };

        let handling = Handling {
            decimal: get("decimal.handling.mode")
                .map(DecimalHandlingMode::parse)
                .transpose()?
                .unwrap_or(DecimalHandlingMode::Precise),
            time_precision: get("time.precision.mode")
                .map(TimePrecisionMode::parse)
                .transpose()?
                .unwrap_or(TimePrecisionMode::AdaptiveTimeMicroseconds),
            bigint_unsigned: get("bigint.unsigned.handling.mode")
                .map(BigintUnsignedHandlingMode::parse)
                .transpose()?
                .unwrap_or(BigintUnsignedHandlingMode::Long),
            binary: get("binary.handling.mode")
                .map(BinaryHandlingMode::parse)
                .transpose()?
                .unwrap_or(BinaryHandlingMode::Bytes),
        };

        let max_batch_size = opt_u64(get("max.batch.size"), "max.batch.size", 1, 2048)? as usize;
        let max_queue_size = opt_u64(get("max.queue.size"), "max.queue.size", 1, 8192)? as usize;
        if max_queue_size <= max_batch_size {
            return Err(Error::config(
                "max.queue.size",
                max_queue_size.to_string(),
                format!("an integer greater than max.batch.size ({max_batch_size})"),
            ));
        }

        let producer_properties = props
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("kafka.producer.")
                    .map(|p| (p.to_owned(), v.clone()))
            })
            .collect();
        let (transforms, transform_keys) = crate::transforms::from_properties(props)?;
        for (key, reshaper, what) in [
            (
                "value.converter.schemas.enable",
                transforms.value_reshaper(),
                "values",
            ),
            (
                "key.converter.schemas.enable",
                transforms.key_reshaper(),
                "keys",
            ),
        ] {
            if let Some(alias) = reshaper
                && let Some(v) = get(key)
                && parse_bool(key, v)?
            {
                return Err(Error::config(
                    key,
                    v,
                    format!(
                        "false while transform `{alias}` changes the shape of {what} \
                         (schemas of transformed {what} are not built yet)"
                    ),
                ));
            }
        }
        let heartbeat_topic_prefix = get("topic.heartbeat.prefix")
            .unwrap_or("__debezium-heartbeat")
            .to_owned();
        let dead_letter_topic = get("errors.deadletterqueue.topic.name")
            .map_or_else(|| format!("{topic_prefix}.dlq"), str::to_owned);
        let unknown_keys = props
            .keys()
            .filter(|k| {
                !KNOWN.contains(&k.as_str())
                    && !storage::KEYS.contains(&k.as_str())
                    && !k.starts_with("kafka.producer.")
                    && !transform_keys.contains(k)
            })
            .cloned()
            .collect();

        let offset_storage = OffsetStorage::from_properties(name, &|k| get(k).map(str::to_owned))?;
        let history_storage =
            HistoryStorage::from_properties(name, &offset_storage, &bootstrap_servers, &|k| {
                get(k).map(str::to_owned)
            })?;
        let config = ConnectorConfig {
            name: name.to_owned(),
            hostname: required("database.hostname", "the MariaDB host name")?,
            port,
            user: required("database.user", "the CDC user name")?,
            password: props.get("database.password").cloned().unwrap_or_default(),
            server_id,
            topic_prefix,
            filter: TableFilter::new(
                get("database.include.list"),
                get("table.include.list"),
                get("table.exclude.list"),
            )?,
            snapshot_mode: get("snapshot.mode")
                .map(SnapshotMode::parse)
                .transpose()?
                .unwrap_or(SnapshotMode::NoData),
            snapshot_fetch_size: opt_u64(
                get("snapshot.fetch.size"),
                "snapshot.fetch.size",
                1,
                10_000,
            )?,
            max_batch_size,
            max_queue_size,
            poll_interval_ms: opt_u64(get("poll.interval.ms"), "poll.interval.ms", 1, 500)?,
            include_schema_changes: opt_bool(
                get("include.schema.changes"),
                "include.schema.changes",
                true,
            )?,
            provide_transaction_metadata: opt_bool(
                get("provide.transaction.metadata"),
                "provide.transaction.metadata",
                false,
            )?,
            transaction_topic,
            tombstones_on_delete: opt_bool(
                get("tombstones.on.delete"),
                "tombstones.on.delete",
                true,
            )?,
            include_query: opt_bool(get("include.query"), "include.query", false)?,
            bootstrap_servers,
            errors_tolerance: get("errors.tolerance")
                .map(ErrorsTolerance::parse)
                .transpose()?
                .unwrap_or(ErrorsTolerance::None),
            dead_letter_topic,
            heartbeat_interval_ms,
            heartbeat_topic_prefix,
            handling,
            key_schemas: opt_bool(
                get("key.converter.schemas.enable"),
                "key.converter.schemas.enable",
                false,
            )?,
            value_schemas: opt_bool(
                get("value.converter.schemas.enable"),
                "value.converter.schemas.enable",
                false,
            )?,
            history_storage,
            offset_storage,
            producer_properties,
            transforms,
        };
        Ok(Parsed {
            config,
            unknown_keys,
        })
    }

    /// The MariaDB URL of this configuration.
    pub fn mysql_opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.hostname.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .into()
    }

    /// The heartbeat topic: `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub fn heartbeat_topic(&self) -> String {
        format!("{}.{}", self.heartbeat_topic_prefix, self.topic_prefix)
    }

    /// The topic of a table's change events: `<topic.prefix>.<db>.<table>`.
    pub fn topic_for(&self, db: &str, table: &str) -> String {
        format!("{}.{db}.{table}", self.topic_prefix)
    }
}

/// `value` of `key` when it can name a Kafka topic (or begin one's name).
fn topic_name(key: &str, value: String) -> Result<String> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Ok(value)
    } else {
        Err(Error::config(
            key,
            value,
            "letters, digits, `.`, `_` and `-` (a Kafka topic name)",
        ))
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::config(key, value, "true or false")),
    }
}

fn opt_bool(value: Option<&str>, key: &str, default: bool) -> Result<bool> {
    value.map_or(Ok(default), |v| parse_bool(key, v))
}

fn parse_u64(key: &str, value: &str, min: u64) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(Error::config(
            key,
            value,
            format!("an integer of at least {min}"),
        )),
    }
}

fn opt_u64(value: Option<&str>, key: &str, min: u64, default: u64) -> Result<u64> {
    value.map_or(Ok(default), |v| parse_u64(key, v, min))
}

#[cfg(test)]
mod tests;
