//! The Kafka Connect schemas of a table's key and envelope (`schemas.enable=true`).

use serde_json::{Value as Json, json};

use crate::config::Handling;
use crate::mapping::TableSchema;

/// A table's key and value schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeSchemas {
    /// `<prefix>.<db>.<table>.Key`, or `None` for a table without a primary key.
    pub key: Option<Json>,
    /// `<prefix>.<db>.<table>.Envelope`.
    pub value: Json,
}

fn optional_string(field: &str) -> Json {
    json!({"type": "string", "optional": true, "field": field})
}

impl EnvelopeSchemas {
    /// Builds both schemas for `table` under `prefix`.
    pub fn new(prefix: &str, table: &TableSchema, h: &Handling) -> Self {
        let base = format!("{prefix}.{}.{}", table.db, table.table);
        let keys = table.key_columns();
        let key = (!keys.is_empty()).then(|| {
            let fields: Vec<Json> = keys.iter().map(|i| table.columns[*i].connect_schema(h)).collect();
            json!({"type": "struct", "fields": fields, "optional": false, "name": format!("{base}.Key")})
        });
        let fields: Vec<Json> = table.columns.iter().map(|c| c.connect_schema(h)).collect();
        let row = |field: &str| json!({"type": "struct", "fields": fields, "optional": true, "name": format!("{base}.Value"), "field": field});
        let source = json!({
            "type": "struct",
            "fields": [
                {"type": "string", "optional": false, "field": "version"},
                {"type": "string", "optional": false, "field": "connector"},
                {"type": "string", "optional": false, "field": "name"},
                {"type": "int64", "optional": false, "field": "ts_ms"},
                {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
                 "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
                 "default": "false", "field": "snapshot"},
                {"type": "string", "optional": false, "field": "db"},
                optional_string("sequence"),
                {"type": "int64", "optional": true, "field": "ts_us"},
                {"type": "int64", "optional": true, "field": "ts_ns"},
                optional_string("table"),
                {"type": "int64", "optional": false, "field": "server_id"},
                optional_string("gtid"),
                {"type": "string", "optional": false, "field": "file"},
                {"type": "int64", "optional": false, "field": "pos"},
                {"type": "int32", "optional": false, "field": "row"},
                {"type": "int64", "optional": true, "field": "thread"},
                optional_string("query"),
            ],
            "optional": false,
            "name": "io.debezium.connector.mariadb.Source",
            // Debezium 3.x versions its source block's schema.
            "version": 1,
            "field": "source",
        });
        let transaction = json!({
            "type": "struct",
            "fields": [
                {"type": "string", "optional": false, "field": "id"},
                {"type": "int64", "optional": false, "field": "total_order"},
                {"type": "int64", "optional": false, "field": "data_collection_order"},
            ],
            "optional": true,
            "name": "event.block",
            "version": 1,
            "field": "transaction",
        });
        let value = json!({
            "type": "struct",
            "fields": [
                row("before"),
                row("after"),
                source,
                transaction,
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
                {"type": "int64", "optional": true, "field": "ts_us"},
                {"type": "int64", "optional": true, "field": "ts_ns"},
            ],
            "optional": false,
            "name": format!("{base}.Envelope"),
            "version": 2,
        });
        Self { key, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::ColumnMeta;
    use mysql_common::constants::ColumnType;

    #[test]
    fn key_and_value_schemas_name_the_table() {
        let mut id = ColumnMeta::new("id", ColumnType::MYSQL_TYPE_LONG);
        id.primary_key = true;
        id.nullable = false;
        let table = TableSchema {
            db: "d".into(),
            table: "t".into(),
            columns: vec![id, ColumnMeta::new("v", ColumnType::MYSQL_TYPE_DOUBLE)],
        };
        let s = EnvelopeSchemas::new("p", &table, &Handling::default());
        let key = s.key.unwrap();
        assert_eq!(key["name"], "p.d.t.Key");
        assert_eq!(
            key["fields"][0],
            json!({"type": "int32", "optional": false, "field": "id"})
        );
        assert_eq!(s.value["name"], "p.d.t.Envelope");
        assert_eq!(s.value["fields"][1]["name"], "p.d.t.Value");
        assert_eq!(s.value["fields"][1]["fields"][1]["type"], "double");
        assert_eq!(
            s.value["fields"][2]["name"],
            "io.debezium.connector.mariadb.Source"
        );
        assert_eq!(s.value["fields"][2]["version"], 1);
    }
}
