use super::*;

const EXAMPLE: &str = r#"{
  "name": "inventory-connector",
  "config": {
    "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
    "tasks.max": "1",
    "database.hostname": "127.0.0.1",
    "database.port": "3306",
    "database.user": "keel",
    "database.password": "keel",
    "database.server.id": "184054",
    "topic.prefix": "dbserver1",
    "database.include.list": "inventory",
    "table.exclude.list": "inventory.audit",
    "snapshot.mode": "no_data",
    "max.batch.size": 1024,
    "max.queue.size": "4096",
    "poll.interval.ms": "200",
    "include.schema.changes": "false",
    "provide.transaction.metadata": false,
    "transaction.topic": "tx",
    "tombstones.on.delete": "false",
    "heartbeat.interval.ms": "0",
    "kafka.bootstrap.servers": "127.0.0.1:9092",
    "errors.tolerance": "none",
    "decimal.handling.mode": "string",
    "time.precision.mode": "connect",
    "bigint.unsigned.handling.mode": "precise",
    "binary.handling.mode": "hex",
    "value.converter.schemas.enable": "true",
    "schema.history.internal.kafka.topic": "schema-changes.inventory",
    "database.ssl.mode": "disabled"
  }
}"#;

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut base: BTreeMap<String, String> = [
        ("database.hostname", "h"),
        ("database.user", "u"),
        ("database.server.id", "7"),
        ("topic.prefix", "p"),
        ("bootstrap.servers", "k:9092"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in pairs {
        base.insert((*k).to_owned(), (*v).to_owned());
    }
    base
}

#[test]
fn reads_a_debezium_connector_json() {
    let parsed = ConnectorConfig::from_json(EXAMPLE).unwrap();
    let c = parsed.config;
    assert_eq!(c.name, "inventory-connector");
    assert_eq!((c.hostname.as_str(), c.port), ("127.0.0.1", 3306));
    assert_eq!((c.user.as_str(), c.password.as_str()), ("keel", "keel"));
    assert_eq!(c.server_id, 184054);
    assert_eq!(c.topic_prefix, "dbserver1");
    assert!(c.filter.includes("inventory", "orders"));
    assert!(!c.filter.includes("inventory", "audit"));
    assert!(!c.filter.includes("other", "orders"));
    assert_eq!(
        (c.max_batch_size, c.max_queue_size, c.poll_interval_ms),
        (1024, 4096, 200)
    );
    assert!(!c.include_schema_changes);
    assert_eq!(c.transaction_topic, "tx");
    assert!(!c.tombstones_on_delete);
    assert_eq!(c.bootstrap_servers, "127.0.0.1:9092");
    assert_eq!(c.handling.decimal, DecimalHandlingMode::String);
    assert_eq!(c.handling.time_precision, TimePrecisionMode::Connect);
    assert_eq!(
        c.handling.bigint_unsigned,
        BigintUnsignedHandlingMode::Precise
    );
    assert_eq!(c.handling.binary, BinaryHandlingMode::Hex);
    assert!(c.value_schemas && !c.key_schemas);
    assert_eq!(
        c.offset_storage,
        OffsetStorage::File {
            path: "inventory-connector.offsets.json".into()
        }
    );
    assert_eq!(
        c.topic_for("inventory", "orders"),
        "dbserver1.inventory.orders"
    );
    assert_eq!(
        c.history_storage,
        HistoryStorage::Kafka {
            topic: "schema-changes.inventory".into(),
            bootstrap_servers: "127.0.0.1:9092".into()
        }
    );
    assert_eq!(parsed.unknown_keys, ["database.ssl.mode"]);
}

#[test]
fn defaults_follow_debezium() {
    let c = ConnectorConfig::from_properties("n", &props(&[]))
        .unwrap()
        .config;
    assert_eq!(c.port, 3306);
    assert_eq!(c.snapshot_mode, SnapshotMode::NoData);
    assert_eq!(c.snapshot_fetch_size, 10_000);
    assert_eq!(
        (c.max_batch_size, c.max_queue_size, c.poll_interval_ms),
        (2048, 8192, 500)
    );
    assert!(c.tombstones_on_delete && c.include_schema_changes);
    assert_eq!(c.transaction_topic, "transaction");
    assert_eq!(c.handling, Handling::default());
    assert!(!c.key_schemas && !c.value_schemas);
    assert_eq!(c.bootstrap_servers, "k:9092");
}

#[test]
fn both_transaction_topic_names_are_accepted() {
    let c = ConnectorConfig::from_properties("n", &props(&[("topic.transaction", "a")])).unwrap();
    assert_eq!(c.config.transaction_topic, "a");
    let c = ConnectorConfig::from_properties("n", &props(&[("transaction.topic", "b")])).unwrap();
    assert_eq!(c.config.transaction_topic, "b");
    let err = ConnectorConfig::from_properties(
        "n",
        &props(&[("transaction.topic", "b"), ("topic.transaction", "a")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("transaction.topic"), "{err}");
}

#[test]
fn invalid_values_name_the_key_and_what_it_accepts() {
    let cases: &[(&str, &str, &str)] = &[
        ("database.port", "70000", "TCP port"),
        ("database.server.id", "0", "at least 1"),
        ("tombstones.on.delete", "yes", "true or false"),
        ("max.batch.size", "-1", "integer"),
        ("max.queue.size", "10", "greater than max.batch.size"),
        (
            "snapshot.mode",
            "always",
            "initial, initial_only, when_needed, no_data",
        ),
        ("snapshot.fetch.size", "0", "at least 1"),
        ("decimal.handling.mode", "float", "precise, string, double"),
        ("errors.tolerance", "some", "none, all"),
        ("provide.transaction.metadata", "yes", "true or false"),
        ("heartbeat.interval.ms", "-5", "at least 0"),
        (
            "value.converter",
            "io.confluent.connect.avro.AvroConverter",
            "JsonConverter",
        ),
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector",
            "MariaDbConnector",
        ),
        ("topic.prefix", "a b", "Kafka topic name"),
        ("table.include.list", "x(", "regular expressions"),
    ];
    for (key, value, accepts) in cases {
        let err = ConnectorConfig::from_properties("n", &props(&[(key, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(accepts), "{key}: {err}");
    }
}

#[test]
fn missing_required_keys_are_named() {
    for key in [
        "database.hostname",
        "database.user",
        "database.server.id",
        "topic.prefix",
    ] {
        let mut p = props(&[]);
        p.remove(key);
        let err = ConnectorConfig::from_properties("n", &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
    }
    let mut p = props(&[]);
    p.remove("bootstrap.servers");
    let err = ConnectorConfig::from_properties("n", &p)
        .unwrap_err()
        .to_string();
    assert!(err.contains("kafka.bootstrap.servers"), "{err}");
    let err = ConnectorConfig::from_json(r#"{"config": {}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("name"), "{err}");
}

#[test]
fn producer_properties_pass_through() {
    let c = ConnectorConfig::from_properties("n", &props(&[("kafka.producer.linger.ms", "5")]))
        .unwrap();
    assert_eq!(
        c.config
            .producer_properties
            .get("linger.ms")
            .map(String::as_str),
        Some("5")
    );
    assert!(c.unknown_keys.is_empty());
}

#[test]
fn transform_keys_are_known_and_schemas_with_transforms_refused() {
    let c = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("transforms", "unwrap"),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState",
            ),
            ("transforms.unwrap.add.fields", "op"),
            ("transforms.unwrap.route.by.field", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.config.transforms.aliases(), ["unwrap"]);
    assert_eq!(c.unknown_keys, ["transforms.unwrap.route.by.field"]);
    let err = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("transforms", "unwrap"),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState",
            ),
            ("value.converter.schemas.enable", "true"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("value.converter.schemas.enable") && err.contains("`unwrap`"),
        "{err}"
    );
}

#[test]
fn schemas_stay_allowed_with_transforms_that_keep_the_value_shape() {
    let c = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("transforms", "route"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "(.*)"),
            ("transforms.route.replacement", "x.$1"),
            ("value.converter.schemas.enable", "true"),
            ("key.converter.schemas.enable", "true"),
        ]),
    )
    .unwrap();
    assert!(c.config.value_schemas && c.config.key_schemas);
    let err = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("transforms", "outbox"),
            (
                "transforms.outbox.type",
                "io.debezium.transforms.outbox.EventRouter",
            ),
            ("key.converter.schemas.enable", "true"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("key.converter.schemas.enable") && err.contains("`outbox`"),
        "{err}"
    );
}

#[test]
fn heartbeats_and_the_dead_letter_topic_default_as_documented() {
    let c = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("heartbeat.interval.ms", "250"),
            ("errors.tolerance", "all"),
        ]),
    )
    .unwrap()
    .config;
    assert_eq!(c.heartbeat_interval_ms, 250);
    assert_eq!(
        c.heartbeat_topic(),
        format!("__debezium-heartbeat.{}", c.topic_prefix)
    );
    assert_eq!(c.errors_tolerance, ErrorsTolerance::All);
    assert_eq!(c.dead_letter_topic, format!("{}.dlq", c.topic_prefix));
    let c = ConnectorConfig::from_properties(
        "n",
        &props(&[
            ("topic.heartbeat.prefix", "hb"),
            ("errors.deadletterqueue.topic.name", "dead"),
        ]),
    )
    .unwrap()
    .config;
    assert_eq!(c.heartbeat_topic(), format!("hb.{}", c.topic_prefix));
    assert_eq!(c.dead_letter_topic, "dead");
}
