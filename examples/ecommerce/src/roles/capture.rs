//! `ecommerce capture`: the legacy database's binlog to Debezium change events in Kafka, with
//! the connector JSON shipped beside this example (`connector.json`). Only the deployment's
//! names and addresses are overridden; every other key is the file's.

use serde_json::Value;

use crate::settings::Settings;

/// The connector configuration as shipped.
pub const CONNECTOR_JSON: &str = include_str!("../../connector.json");

/// The connector JSON for this deployment: `connector.json` with this namespace's database,
/// server id, offsets file and the configured MariaDB and Kafka addresses.
pub fn connector_json(settings: &Settings) -> crate::Result<String> {
    let names = settings.names();
    let mut json: Value = serde_json::from_str(CONNECTOR_JSON)?;
    let (host, port) = settings
        .mariadb
        .rsplit_once(':')
        .unwrap_or((settings.mariadb.as_str(), "3306"));
    let tables: Vec<String> = crate::legacy::schema::TABLES
        .iter()
        .map(|t| format!("{}.{t}", names.database))
        .collect();
    let offsets = settings.dir().join("capture.offsets.json");
    let overrides = [
        ("database.hostname", host.to_owned()),
        ("database.port", port.to_owned()),
        ("database.server.id", names.server_id.to_string()),
        ("database.include.list", names.database.clone()),
        ("table.include.list", tables.join(",")),
        ("kafka.bootstrap.servers", settings.kafka.clone()),
        (
            "offset.storage.file.filename",
            offsets.display().to_string(),
        ),
    ];
    let config = json
        .get_mut("config")
        .and_then(Value::as_object_mut)
        .ok_or("connector.json has no `config` object")?;
    for (key, value) in overrides {
        config.insert(key.to_owned(), Value::String(value));
    }
    Ok(json.to_string())
}

/// Runs capture until the process ends (it resumes from its offsets file).
pub async fn run(settings: &Settings) -> crate::Result<()> {
    let parsed = keel::capture::ConnectorConfig::from_json(&connector_json(settings)?)?;
    keel::capture::Capture::new(parsed.config).run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::connector_json;
    use crate::cli::Cli;

    #[test]
    fn the_shipped_connector_parses_with_a_namespace() {
        let cli = Cli::parse_from(["ecommerce", "--namespace", "t9", "capture"]);
        let json = connector_json(&cli.settings).expect("overrides apply");
        let parsed =
            keel::capture::ConnectorConfig::from_json(&json).expect("valid connector config");
        assert_eq!(
            parsed.config.topic_for("ecommerce_t9", "orders"),
            "orders.ecommerce_t9.orders"
        );
        assert!(
            parsed.unknown_keys.is_empty(),
            "unknown keys: {:?}",
            parsed.unknown_keys
        );
    }
}
