//! Where the services are and what this deployment's names are.
//!
//! Every name derives from one database name (`ecommerce` by default): a test run gets its own
//! (`--namespace t1` → `ecommerce_t1`), so several runs share the stack without meeting.

use clap::{Args, ValueEnum};

/// Connection settings and the deployment's namespace, shared by every role (flags or
/// environment variables, so `ecommerce all` hands them to its children).
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Suffix for every name (databases, topics, indices, keys), for side-by-side runs.
    #[arg(long, env = "ECOMMERCE_NAMESPACE", global = true, default_value = "")]
    pub namespace: String,
    /// MariaDB host and port of the legacy order database.
    #[arg(
        long,
        env = "ECOMMERCE_MARIADB",
        global = true,
        default_value = "127.0.0.1:3306"
    )]
    pub mariadb: String,
    /// PostgreSQL server of the event store (the database itself is created per namespace).
    #[arg(
        long,
        env = "ECOMMERCE_POSTGRES",
        global = true,
        default_value = "postgres://keel:keel@127.0.0.1:5432"
    )]
    pub postgres: String,
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "ECOMMERCE_KAFKA",
        global = true,
        default_value = "127.0.0.1:9092"
    )]
    pub kafka: String,
    /// Redis URL of the read models.
    #[arg(
        long,
        env = "ECOMMERCE_REDIS",
        global = true,
        default_value = "redis://127.0.0.1:6379/"
    )]
    pub redis: String,
    /// Elasticsearch URL of the read models.
    #[arg(
        long,
        env = "ECOMMERCE_ELASTICSEARCH",
        global = true,
        default_value = "http://127.0.0.1:9200"
    )]
    pub elasticsearch: String,
    /// Jaeger's query API (for the checks and the printed trace links).
    #[arg(
        long,
        env = "ECOMMERCE_JAEGER",
        global = true,
        default_value = "http://127.0.0.1:16686"
    )]
    pub jaeger: String,
    /// How the order saga runs: a coordinator (orchestration) or reacting participants
    /// (choreography).
    #[arg(
        long,
        value_enum,
        env = "ECOMMERCE_SAGA",
        global = true,
        default_value = "orchestration"
    )]
    pub saga: SagaStyle,
    /// Where roles keep local state (the capture offsets file) and logs.
    #[arg(
        long,
        env = "ECOMMERCE_STATE_DIR",
        global = true,
        default_value = "target/ecommerce"
    )]
    pub state_dir: std::path::PathBuf,
}

impl Settings {
    /// The environment variables that carry these settings to a child process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ECOMMERCE_NAMESPACE", self.namespace.clone()),
            ("ECOMMERCE_MARIADB", self.mariadb.clone()),
            ("ECOMMERCE_POSTGRES", self.postgres.clone()),
            ("ECOMMERCE_KAFKA", self.kafka.clone()),
            ("ECOMMERCE_REDIS", self.redis.clone()),
            ("ECOMMERCE_ELASTICSEARCH", self.elasticsearch.clone()),
            ("ECOMMERCE_JAEGER", self.jaeger.clone()),
            ("ECOMMERCE_STATE_DIR", self.state_dir.display().to_string()),
            ("ECOMMERCE_SAGA", self.saga.as_str().to_owned()),
        ]
    }

    /// The deployment's names.
    pub fn names(&self) -> Names {
        Names::new(&self.namespace)
    }

    /// The MariaDB URL of the legacy database (`root`: the example creates it).
    pub fn mariadb_url(&self, database: Option<&str>) -> String {
        match database {
            Some(db) => format!("mysql://root@{}/{db}", self.mariadb),
            None => format!("mysql://root@{}", self.mariadb),
        }
    }

    /// The PostgreSQL URL of the event store's database.
    pub fn event_store_url(&self) -> String {
        format!(
            "{}/{}",
            self.postgres.trim_end_matches('/'),
            self.names().database
        )
    }

    /// The PostgreSQL URL of the server's maintenance database (to create and drop ours).
    pub fn postgres_admin_url(&self) -> String {
        format!("{}/postgres", self.postgres.trim_end_matches('/'))
    }

    /// This deployment's directory for state and logs.
    pub fn dir(&self) -> std::path::PathBuf {
        self.state_dir.join(self.names().database)
    }
}

/// Partitions of the change, command and reply topics, and consumers per role that reads them:
/// records of one key (one row, one saga) stay in order; different keys are handled in parallel.
pub const PARTITIONS: i32 = 4;

/// How the order saga is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SagaStyle {
    /// A coordinator sends commands and compensations (default).
    Orchestration,
    /// Participants react to each other's events.
    Choreography,
}

impl SagaStyle {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orchestration => "orchestration",
            Self::Choreography => "choreography",
        }
    }
}

/// Every name the example uses, derived from its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The MariaDB database of the legacy application, and the PostgreSQL database of the event
    /// store: `ecommerce[_<namespace>]`.
    pub database: String,
    /// Capture's `topic.prefix`: topics are `orders.<database>.<table>`.
    pub topic_prefix: String,
    /// `orders_read_model[_<namespace>]`.
    pub orders_index: String,
    /// `customers_read_model[_<namespace>]`.
    pub customers_index: String,
    /// `[<namespace>:]order:`.
    pub order_key_prefix: String,
    /// `[<namespace>:]customer:`.
    pub customer_key_prefix: String,
    /// Saga command topics: `<database>.saga.commands.<participant>`.
    pub command_topic_prefix: String,
    /// The saga reply topic.
    pub reply_topic: String,
    /// Kafka consumer groups start with this.
    pub group_prefix: String,
    /// Capture's replica server id (unique per namespace among concurrent runs).
    pub server_id: u32,
}

impl Names {
    /// The names of namespace `ns` (`""`: the demo's own names).
    pub fn new(ns: &str) -> Self {
        let (db_suffix, key_prefix) = if ns.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("_{ns}"), format!("{ns}:"))
        };
        let database = format!("ecommerce{db_suffix}");
        let server_id = 5400
            + ns.bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
                % 100_000;
        Self {
            topic_prefix: "orders".into(),
            orders_index: format!("orders_read_model{db_suffix}"),
            customers_index: format!("customers_read_model{db_suffix}"),
            order_key_prefix: format!("{key_prefix}order:"),
            customer_key_prefix: format!("{key_prefix}customer:"),
            command_topic_prefix: format!("{database}.saga.commands."),
            reply_topic: format!("{database}.saga.replies"),
            group_prefix: format!("{database}."),
            server_id,
            database,
        }
    }

    /// The change-event topic of a legacy table.
    pub fn table_topic(&self, table: &str) -> String {
        format!("{}.{}.{table}", self.topic_prefix, self.database)
    }

    /// Every Kafka topic this deployment writes (deleted by `setup --reset`).
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = crate::legacy::schema::TABLES
            .iter()
            .map(|t| self.table_topic(t))
            .collect();
        for participant in ["orders", "inventory", "payment"] {
            topics.push(format!("{}{participant}", self.command_topic_prefix));
        }
        topics.push(self.reply_topic.clone());
        let dead_letters: Vec<String> = topics.iter().map(|t| format!("{t}.dlq")).collect();
        topics.extend(dead_letters);
        topics
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn the_demo_uses_the_names_of_the_guide() {
        let n = Names::new("");
        assert_eq!(n.table_topic("orders"), "orders.ecommerce.orders");
        assert_eq!(n.orders_index, "orders_read_model");
        assert_eq!(n.order_key_prefix, "order:");
        assert_eq!(n.customer_key_prefix, "customer:");
    }

    #[test]
    fn a_namespace_changes_every_name() {
        let (a, b) = (Names::new(""), Names::new("t1"));
        assert_eq!(b.database, "ecommerce_t1");
        assert_eq!(b.table_topic("orders"), "orders.ecommerce_t1.orders");
        assert_ne!(a.orders_index, b.orders_index);
        assert_ne!(a.order_key_prefix, b.order_key_prefix);
        assert_ne!(a.reply_topic, b.reply_topic);
        assert_ne!(a.server_id, b.server_id);
    }
}
