//! Where offsets and the schema history are stored: `offset.storage` and
//! `schema.history.internal` and their keys, by Kafka Connect's and Debezium's names (ADRs 0042,
//! 0044).

use std::path::PathBuf;

use crate::{Error, Result};

/// Kafka Connect's file store (the embedded default).
pub(super) const FILE_STORE: &str = "org.apache.kafka.connect.storage.FileOffsetBackingStore";
/// Kafka Connect's topic store.
pub(super) const KAFKA_STORE: &str = "org.apache.kafka.connect.storage.KafkaOffsetBackingStore";
/// Debezium's JDBC store; we speak PostgreSQL only.
pub(super) const JDBC_STORE: &str = "io.debezium.storage.jdbc.offset.JdbcOffsetBackingStore";

/// The offset store a connector uses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetStorage {
    /// A JSON file replaced atomically: `offset.storage.file.filename`.
    File {
        /// The file (default `<name>.offsets.json`).
        path: PathBuf,
    },
    /// A compacted Kafka topic keyed by the connector: `offset.storage.topic`.
    Kafka {
        /// The topic.
        topic: String,
        /// `offset.storage.partitions` when the topic is created (default 1).
        partitions: i32,
        /// `offset.storage.replication.factor` when the topic is created (default -1: the
        /// broker's `default.replication.factor`).
        replication_factor: i32,
    },
    /// A PostgreSQL table, one row per connector: `offset.storage.jdbc.url`.
    Postgres {
        /// A `postgres://` URL (a `jdbc:postgresql://` URL is converted, with
        /// `offset.storage.jdbc.user`/`.password` as its credentials).
        url: String,
        /// `offset.storage.jdbc.offset.table.name` (default `keel_capture_offsets`).
        table: String,
    },
}

/// Debezium's file schema history (the embedded default).
pub(super) const FILE_HISTORY: &str = "io.debezium.storage.file.history.FileSchemaHistory";
/// Debezium's Kafka schema history.
pub(super) const KAFKA_HISTORY: &str = "io.debezium.storage.kafka.history.KafkaSchemaHistory";

/// Where the schema history is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistoryStorage {
    /// One JSON document per line: `schema.history.internal.file.filename`.
    File {
        /// The file (default `<name>.schema-history.jsonl` beside the offsets file).
        path: PathBuf,
    },
    /// A one-partition topic kept forever: `schema.history.internal.kafka.topic`.
    Kafka {
        /// The topic.
        topic: String,
        /// `schema.history.internal.kafka.bootstrap.servers` (default the connector's brokers).
        bootstrap_servers: String,
    },
}

impl HistoryStorage {
    /// Reads the history store from the configuration: `schema.history.internal` names the
    /// class; without it, `schema.history.internal.kafka.topic` selects Kafka, otherwise the
    /// file.
    pub(super) fn from_properties(
        name: &str,
        offsets: &OffsetStorage,
        bootstrap_servers: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let class = match get("schema.history.internal") {
            Some(class) => class,
            None if get("schema.history.internal.kafka.topic").is_some() => {
                KAFKA_HISTORY.to_owned()
            }
            None => FILE_HISTORY.to_owned(),
        };
        match class.as_str() {
            FILE_HISTORY => Ok(Self::File {
                path: get("schema.history.internal.file.filename").map_or_else(
                    || {
                        let dir = match offsets {
                            OffsetStorage::File { path } => path
                                .parent()
                                .map(std::path::Path::to_path_buf)
                                .unwrap_or_default(),
                            _ => PathBuf::new(),
                        };
                        dir.join(format!("{name}.schema-history.jsonl"))
                    },
                    PathBuf::from,
                ),
            }),
            KAFKA_HISTORY => {
                let topic = get("schema.history.internal.kafka.topic").ok_or_else(|| {
                    Error::MissingKey {
                        key: "schema.history.internal.kafka.topic".into(),
                        hint: "the topic the schema history is kept in (schema.history.internal \
                               is the Kafka history)"
                            .into(),
                    }
                })?;
                let topic = super::topic_name("schema.history.internal.kafka.topic", topic)?;
                Ok(Self::Kafka {
                    topic,
                    bootstrap_servers: get("schema.history.internal.kafka.bootstrap.servers")
                        .unwrap_or_else(|| bootstrap_servers.to_owned()),
                })
            }
            other => Err(Error::config(
                "schema.history.internal",
                other,
                format!("{FILE_HISTORY} or {KAFKA_HISTORY}"),
            )),
        }
    }

    /// What the store is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::File { path } => format!("file {}", path.display()),
            Self::Kafka { topic, .. } => format!("Kafka topic {topic}"),
        }
    }
}

/// The keys this module reads.
pub(super) const KEYS: &[&str] = &[
    "schema.history.internal",
    "schema.history.internal.file.filename",
    "schema.history.internal.kafka.topic",
    "schema.history.internal.kafka.bootstrap.servers",
    "offset.storage",
    "offset.storage.file.filename",
    "offset.storage.topic",
    "offset.storage.partitions",
    "offset.storage.replication.factor",
    "offset.storage.jdbc.url",
    "offset.storage.jdbc.connection.url",
    "offset.storage.jdbc.user",
    "offset.storage.jdbc.connection.user",
    "offset.storage.jdbc.password",
    "offset.storage.jdbc.connection.password",
    "offset.storage.jdbc.offset.table.name",
    "offset.storage.jdbc.table.name",
];

impl OffsetStorage {
    /// Reads the store from the configuration. `offset.storage` names the class; without it,
    /// `offset.storage.topic` selects Kafka, a JDBC URL PostgreSQL, and otherwise the file.
    pub(super) fn from_properties(
        name: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let jdbc_url =
            get("offset.storage.jdbc.url").or_else(|| get("offset.storage.jdbc.connection.url"));
        let class = match get("offset.storage") {
            Some(class) => class,
            None if get("offset.storage.topic").is_some() => KAFKA_STORE.to_owned(),
            None if jdbc_url.is_some() => JDBC_STORE.to_owned(),
            None => FILE_STORE.to_owned(),
        };
        match class.as_str() {
            FILE_STORE => Ok(Self::File {
                path: get("offset.storage.file.filename").map_or_else(
                    || PathBuf::from(format!("{name}.offsets.json")),
                    PathBuf::from,
                ),
            }),
            KAFKA_STORE => {
                let topic = get("offset.storage.topic").ok_or_else(|| Error::MissingKey {
                    key: "offset.storage.topic".into(),
                    hint: "the compacted topic offsets are stored in (offset.storage is the Kafka store)"
                        .into(),
                })?;
                let topic = super::topic_name("offset.storage.topic", topic)?;
                Ok(Self::Kafka {
                    topic,
                    partitions: int(get, "offset.storage.partitions", 1, 1)?,
                    replication_factor: int(get, "offset.storage.replication.factor", -1, -1)?,
                })
            }
            JDBC_STORE => {
                let url = jdbc_url.ok_or_else(|| Error::MissingKey {
                    key: "offset.storage.jdbc.url".into(),
                    hint: "the PostgreSQL database offsets are stored in, postgres://user:pass@host:port/db \
                           or jdbc:postgresql://host:port/db"
                        .into(),
                })?;
                let user = get("offset.storage.jdbc.user")
                    .or_else(|| get("offset.storage.jdbc.connection.user"));
                let password = get("offset.storage.jdbc.password")
                    .or_else(|| get("offset.storage.jdbc.connection.password"));
                let table = get("offset.storage.jdbc.offset.table.name")
                    .or_else(|| get("offset.storage.jdbc.table.name"))
                    .unwrap_or_else(|| "keel_capture_offsets".to_owned());
                if !is_table_name(&table) {
                    return Err(Error::config(
                        "offset.storage.jdbc.offset.table.name",
                        table,
                        "a table name: letters, digits and `_`, optionally `schema.table`",
                    ));
                }
                Ok(Self::Postgres {
                    url: postgres_url(&url, user.as_deref(), password.as_deref())?,
                    table,
                })
            }
            other => Err(Error::config(
                "offset.storage",
                other,
                format!("{FILE_STORE}, {KAFKA_STORE} or {JDBC_STORE} (PostgreSQL)"),
            )),
        }
    }

    /// What the store is, for messages: the file, the topic or the table.
    pub fn describe(&self) -> String {
        match self {
            Self::File { path } => format!("file {}", path.display()),
            Self::Kafka { topic, .. } => format!("Kafka topic {topic}"),
            Self::Postgres { table, .. } => format!("PostgreSQL table {table}"),
        }
    }
}

fn int(get: &dyn Fn(&str) -> Option<String>, key: &str, min: i32, default: i32) -> Result<i32> {
    match get(key) {
        None => Ok(default),
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n >= min && n != 0 => Ok(n),
            _ => Err(Error::config(
                key,
                v,
                format!("an integer of at least {min}, not 0"),
            )),
        },
    }
}

/// Letters, digits and `_`, optionally schema-qualified: safe to write into SQL unquoted.
fn is_table_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// A `postgres://` URL from a `postgres://`/`postgresql://` URL or a JDBC one
/// (`jdbc:postgresql://host:port/db?params`), with `user` and `password` added when given.
fn postgres_url(url: &str, user: Option<&str>, password: Option<&str>) -> Result<String> {
    let rest = url
        .strip_prefix("jdbc:postgresql://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| {
            Error::config(
                "offset.storage.jdbc.url",
                url,
                "a PostgreSQL URL: postgres://user:pass@host:port/db or jdbc:postgresql://host:port/db",
            )
        })?;
    let has_credentials = rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'));
    Ok(match (user, has_credentials) {
        (Some(user), false) => {
            let auth = match password {
                Some(p) => format!("{}:{}", encode(user), encode(p)),
                None => encode(user),
            };
            format!("postgres://{auth}@{rest}")
        }
        _ => format!("postgres://{rest}"),
    })
}

/// Percent-encodes what a URL's user-info part cannot hold as is.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn storage(pairs: &[(&str, &str)]) -> Result<OffsetStorage> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OffsetStorage::from_properties("conn", &|k| map.get(k).cloned())
    }

    #[test]
    fn the_file_is_the_default() {
        assert_eq!(
            storage(&[]).unwrap(),
            OffsetStorage::File {
                path: "conn.offsets.json".into()
            }
        );
        assert_eq!(
            storage(&[("offset.storage.file.filename", "/x/o.json")]).unwrap(),
            OffsetStorage::File {
                path: "/x/o.json".into()
            }
        );
    }

    #[test]
    fn a_topic_selects_kafka() {
        let expected = OffsetStorage::Kafka {
            topic: "connect-offsets".into(),
            partitions: 1,
            replication_factor: -1,
        };
        assert_eq!(
            storage(&[("offset.storage.topic", "connect-offsets")]).unwrap(),
            expected
        );
        assert_eq!(
            storage(&[
                ("offset.storage", KAFKA_STORE),
                ("offset.storage.topic", "connect-offsets")
            ])
            .unwrap(),
            expected
        );
        let e = storage(&[("offset.storage", KAFKA_STORE)]).unwrap_err();
        assert!(e.to_string().contains("offset.storage.topic"), "{e}");
        let e = storage(&[("offset.storage.topic", "a b")]).unwrap_err();
        assert!(e.to_string().contains("offset.storage.topic"), "{e}");
        let e = storage(&[
            ("offset.storage.topic", "t"),
            ("offset.storage.partitions", "0"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("offset.storage.partitions"), "{e}");
    }

    #[test]
    fn a_jdbc_url_selects_postgres() {
        let s = storage(&[
            (
                "offset.storage.jdbc.url",
                "jdbc:postgresql://db:5432/keel?sslmode=disable",
            ),
            ("offset.storage.jdbc.user", "k@el"),
            ("offset.storage.jdbc.password", "p:w"),
        ])
        .unwrap();
        assert_eq!(
            s,
            OffsetStorage::Postgres {
                url: "postgres://k%40el:p%3Aw@db:5432/keel?sslmode=disable".into(),
                table: "keel_capture_offsets".into()
            }
        );
        let s = storage(&[
            ("offset.storage", JDBC_STORE),
            ("offset.storage.jdbc.connection.url", "postgres://a:b@h/d"),
            ("offset.storage.jdbc.offset.table.name", "cdc.offsets"),
        ])
        .unwrap();
        assert_eq!(
            s,
            OffsetStorage::Postgres {
                url: "postgres://a:b@h/d".into(),
                table: "cdc.offsets".into()
            }
        );
        let e = storage(&[("offset.storage.jdbc.url", "jdbc:mysql://h/d")]).unwrap_err();
        assert!(e.to_string().contains("offset.storage.jdbc.url"), "{e}");
        let e = storage(&[
            ("offset.storage.jdbc.url", "postgres://h/d"),
            ("offset.storage.jdbc.offset.table.name", "x; DROP TABLE y"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("table.name"), "{e}");
        let e = storage(&[("offset.storage", JDBC_STORE)]).unwrap_err();
        assert!(e.to_string().contains("offset.storage.jdbc.url"), "{e}");
    }

    fn history(pairs: &[(&str, &str)]) -> Result<HistoryStorage> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let offsets = OffsetStorage::from_properties("conn", &|k| map.get(k).cloned())?;
        HistoryStorage::from_properties("conn", &offsets, "k:9092", &|k| map.get(k).cloned())
    }

    #[test]
    fn the_history_lives_beside_the_offsets_file_or_in_kafka() {
        assert_eq!(
            history(&[("offset.storage.file.filename", "/var/lib/o.json")]).unwrap(),
            HistoryStorage::File {
                path: "/var/lib/conn.schema-history.jsonl".into()
            }
        );
        assert_eq!(
            history(&[("schema.history.internal.file.filename", "h.dat")]).unwrap(),
            HistoryStorage::File {
                path: "h.dat".into()
            }
        );
        assert_eq!(
            history(&[("schema.history.internal.kafka.topic", "dbhistory.inventory")]).unwrap(),
            HistoryStorage::Kafka {
                topic: "dbhistory.inventory".into(),
                bootstrap_servers: "k:9092".into()
            }
        );
        assert_eq!(
            history(&[
                ("schema.history.internal", KAFKA_HISTORY),
                ("schema.history.internal.kafka.topic", "h"),
                (
                    "schema.history.internal.kafka.bootstrap.servers",
                    "other:9092"
                ),
            ])
            .unwrap(),
            HistoryStorage::Kafka {
                topic: "h".into(),
                bootstrap_servers: "other:9092".into()
            }
        );
        let e = history(&[("schema.history.internal", KAFKA_HISTORY)]).unwrap_err();
        assert!(
            e.to_string()
                .contains("schema.history.internal.kafka.topic"),
            "{e}"
        );
        let e = history(&[(
            "schema.history.internal",
            "io.debezium.storage.jdbc.history.JdbcSchemaHistory",
        )])
        .unwrap_err();
        assert!(e.to_string().contains(FILE_HISTORY), "{e}");
    }

    #[test]
    fn unknown_classes_are_refused() {
        let e = storage(&[(
            "offset.storage",
            "org.apache.kafka.connect.storage.MemoryOffsetBackingStore",
        )])
        .unwrap_err();
        assert!(e.to_string().contains(FILE_STORE), "{e}");
    }
}
