//! Where the local stack's services (`make up`) are, and the check that they answer.
//!
//! Every endpoint has a default matching `make up` and can be overridden by an environment
//! variable (`KEEL_MARIADB_URL`, `KEEL_MARIADB_ROOT_URL`, `KEEL_POSTGRES_URL`, `KEEL_REDIS_URL`,
//! `KEEL_KAFKA_BROKERS`, `KEEL_ELASTICSEARCH_URL`, `KEEL_OTLP_ENDPOINT`, `KEEL_JAEGER_QUERY_URL`,
//! `KEEL_CONNECT_URL`).

use std::net::ToSocketAddrs;
use std::time::Duration;

/// One service of the local stack: its name, its address for a TCP reachability check and the
/// URL (or broker list) clients use.
#[derive(Debug, Clone)]
pub struct Service {
    /// The name `make status` prints.
    pub name: &'static str,
    /// `host:port` checked before a test talks to the service.
    pub addr: String,
    /// What clients connect to: a URL or a broker list.
    pub url: String,
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split(['/', '?', ','])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

fn service(name: &'static str, var: &str, default: &str) -> Service {
    let url = env_or(var, default);
    Service {
        name,
        addr: host_port(&url),
        url,
    }
}

/// MariaDB as the CDC user (`keel`/`keel`).
pub fn mariadb() -> Service {
    service(
        "mariadb",
        "KEEL_MARIADB_URL",
        "mysql://keel:keel@127.0.0.1:3306",
    )
}

/// MariaDB as root (empty password on loopback, dev only).
pub fn mariadb_root() -> Service {
    service(
        "mariadb",
        "KEEL_MARIADB_ROOT_URL",
        "mysql://root@127.0.0.1:3306/mysql",
    )
}

/// PostgreSQL: the event store's role and database.
pub fn postgres() -> Service {
    service(
        "postgres",
        "KEEL_POSTGRES_URL",
        "postgres://keel:keel@127.0.0.1:5432/keel",
    )
}

/// Redis.
pub fn redis() -> Service {
    service("redis", "KEEL_REDIS_URL", "redis://127.0.0.1:6379/")
}

/// Kafka bootstrap servers.
pub fn kafka() -> Service {
    service("kafka", "KEEL_KAFKA_BROKERS", "127.0.0.1:9092")
}

/// Elasticsearch.
pub fn elasticsearch() -> Service {
    service(
        "elasticsearch",
        "KEEL_ELASTICSEARCH_URL",
        "http://127.0.0.1:9200",
    )
}

/// Jaeger's OTLP gRPC receiver.
pub fn otlp() -> Service {
    service("jaeger", "KEEL_OTLP_ENDPOINT", "http://127.0.0.1:4317")
}

/// Jaeger's query API.
pub fn jaeger_query() -> Service {
    service("jaeger", "KEEL_JAEGER_QUERY_URL", "http://127.0.0.1:16686")
}

/// Kafka Connect's REST API with Debezium's MariaDB connector: the optional `debezium` service
/// (`make up DEBEZIUM=1`; `make test` starts it).
pub fn connect() -> Service {
    service("debezium", "KEEL_CONNECT_URL", "http://127.0.0.1:8083")
}

impl Service {
    /// Checks that the service accepts TCP connections, and panics with a message that says
    /// to run `make up` when it does not. Integration tests call this first, so a stack that is
    /// down is a failure that names its cause, never a skip.
    pub fn require(self) -> Self {
        let reachable = self
            .addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .is_some_and(|addr| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
            });
        // The optional service is started only when asked for.
        let ask = if self.name == "debezium" {
            " DEBEZIUM=1"
        } else {
            ""
        };
        assert!(
            reachable,
            "{} is unreachable at {}: run make up{ask}",
            self.name, self.addr
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_strips_scheme_credentials_and_path() {
        assert_eq!(
            host_port("mysql://keel:keel@127.0.0.1:3306/keel"),
            "127.0.0.1:3306"
        );
        assert_eq!(host_port("http://127.0.0.1:9200"), "127.0.0.1:9200");
        assert_eq!(host_port("127.0.0.1:9092,127.0.0.1:9093"), "127.0.0.1:9092");
        assert_eq!(host_port("redis://127.0.0.1:6379/"), "127.0.0.1:6379");
    }

    #[test]
    #[should_panic(expected = "run make up")]
    fn require_fails_with_run_make_up_when_unreachable() {
        let svc = super::Service {
            name: "nothing",
            addr: "127.0.0.1:1".into(),
            url: String::new(),
        };
        svc.require();
    }
}
