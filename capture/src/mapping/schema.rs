//! A table's columns as the binlog's table map (with `binlog_row_metadata=FULL`) describes
//! them, and their Kafka Connect schemas.

use mysql_common::binlog::events::{OptionalMetaExtractor, OptionalMetadataField, TableMapEvent};
use mysql_common::constants::{ColumnType, GeometryType};
use serde_json::{Value as Json, json};

use super::charset;
use crate::config::{BigintUnsignedHandlingMode, DecimalHandlingMode, Handling, TimePrecisionMode};

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMeta {
    /// The column name.
    pub name: String,
    /// The real type (ENUM and SET resolved from STRING).
    pub column_type: ColumnType,
    /// The type's metadata bytes from the table map.
    pub meta: Vec<u8>,
    /// UNSIGNED.
    pub unsigned: bool,
    /// Collation id (character and ENUM/SET columns; 0 otherwise).
    pub charset: u16,
    /// Part of the primary key.
    pub primary_key: bool,
    /// NULL allowed.
    pub nullable: bool,
    /// ENUM values, in order.
    pub enum_values: Vec<String>,
    /// SET values, in order.
    pub set_values: Vec<String>,
    /// A POINT column (Debezium maps it to `io.debezium.data.geometry.Point`).
    pub point: bool,
}

impl ColumnMeta {
    /// A column of `column_type` with no metadata (for tests and doc examples).
    pub fn new(name: &str, column_type: ColumnType) -> Self {
        Self {
            name: name.to_owned(),
            column_type,
            meta: Vec::new(),
            unsigned: false,
            charset: 0,
            primary_key: false,
            nullable: true,
            enum_values: Vec::new(),
            set_values: Vec::new(),
            point: false,
        }
    }

    /// DECIMAL scale.
    pub fn scale(&self) -> usize {
        self.meta.get(1).copied().map_or(0, usize::from)
    }

    /// DECIMAL precision.
    pub fn precision(&self) -> usize {
        self.meta.first().copied().map_or(0, usize::from)
    }

    /// Fractional-second precision of DATETIME2/TIME2/TIMESTAMP2.
    pub fn fsp(&self) -> u8 {
        match self.column_type {
            ColumnType::MYSQL_TYPE_DATETIME2
            | ColumnType::MYSQL_TYPE_TIME2
            | ColumnType::MYSQL_TYPE_TIMESTAMP2 => self.meta.first().copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// BIT(n)'s n.
    pub fn bit_length(&self) -> usize {
        match self.meta.as_slice() {
            [bits, bytes, ..] => usize::from(*bytes) * 8 + usize::from(*bits),
            _ => 1,
        }
    }

    /// BINARY(n)'s n (bytes), from a CHAR/BINARY column's table-map metadata: the binlog
    /// drops BINARY's trailing zero bytes and Debezium pads them back.
    pub fn binary_length(&self) -> Option<usize> {
        if self.column_type != ColumnType::MYSQL_TYPE_STRING || !self.is_binary() {
            return None;
        }
        match self.meta.as_slice() {
            [real_type, low, ..] if real_type & 0x30 != 0x30 => {
                Some(usize::from(*low) | (usize::from((real_type & 0x30) ^ 0x30) << 4))
            }
            [_, low, ..] => Some(usize::from(*low)),
            _ => None,
        }
    }

    /// BINARY, VARBINARY, BLOB: the binary charset.
    pub fn is_binary(&self) -> bool {
        self.charset == charset::BINARY
    }

    /// The field's Kafka Connect schema as JsonConverter writes it.
    pub fn connect_schema(&self, h: &Handling) -> Json {
        use ColumnType::*;
        let (ty, name, params): (&str, Option<&str>, Option<Json>) = match self.column_type {
            MYSQL_TYPE_TINY => ("int16", None, None),
            MYSQL_TYPE_SHORT if self.unsigned => ("int32", None, None),
            MYSQL_TYPE_SHORT => ("int16", None, None),
            MYSQL_TYPE_INT24 => ("int32", None, None),
            MYSQL_TYPE_LONG if self.unsigned => ("int64", None, None),
            MYSQL_TYPE_LONG => ("int32", None, None),
            MYSQL_TYPE_LONGLONG
                if self.unsigned && h.bigint_unsigned == BigintUnsignedHandlingMode::Precise =>
            {
                decimal_schema(0, 20)
            }
            MYSQL_TYPE_LONGLONG => ("int64", None, None),
            MYSQL_TYPE_FLOAT => ("float", None, None),
            MYSQL_TYPE_DOUBLE => ("double", None, None),
            MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => match h.decimal {
                DecimalHandlingMode::String => ("string", None, None),
                DecimalHandlingMode::Double => ("double", None, None),
                _ => decimal_schema(self.scale(), self.precision()),
            },
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ("int32", Some("io.debezium.time.Date"), None),
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => match h.time_precision {
                TimePrecisionMode::Connect => {
                    ("int32", Some("org.apache.kafka.connect.data.Time"), None)
                }
                _ => ("int64", Some("io.debezium.time.MicroTime"), None),
            },
            MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => match h.time_precision {
                TimePrecisionMode::Connect => (
                    "int64",
                    Some("org.apache.kafka.connect.data.Timestamp"),
                    None,
                ),
                _ if self.fsp() <= 3 => ("int64", Some("io.debezium.time.Timestamp"), None),
                _ => ("int64", Some("io.debezium.time.MicroTimestamp"), None),
            },
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => {
                ("string", Some("io.debezium.time.ZonedTimestamp"), None)
            }
            MYSQL_TYPE_YEAR => ("int32", Some("io.debezium.time.Year"), None),
            MYSQL_TYPE_BIT if self.bit_length() == 1 => ("boolean", None, None),
            MYSQL_TYPE_BIT => (
                "bytes",
                Some("io.debezium.data.Bits"),
                Some(json!({"length": self.bit_length().to_string()})),
            ),
            MYSQL_TYPE_ENUM => (
                "string",
                Some("io.debezium.data.Enum"),
                Some(json!({"allowed": self.enum_values.join(",")})),
            ),
            MYSQL_TYPE_SET => (
                "string",
                Some("io.debezium.data.EnumSet"),
                Some(json!({"allowed": self.set_values.join(",")})),
            ),
            MYSQL_TYPE_JSON => ("string", Some("io.debezium.data.Json"), None),
            MYSQL_TYPE_GEOMETRY if self.point => {
                let mut s = json!({
                    "type": "struct",
                    "fields": [
                        {"type": "double", "optional": false, "field": "x"},
                        {"type": "double", "optional": false, "field": "y"},
                        {"type": "bytes", "optional": true, "field": "wkb"},
                        {"type": "int32", "optional": true, "field": "srid"}
                    ],
                    "optional": self.nullable,
                    "name": "io.debezium.data.geometry.Point",
                    "version": 1,
                    "doc": "Geometry (POINT)",
                });
                s["field"] = json!(self.name);
                return s;
            }
            MYSQL_TYPE_GEOMETRY => {
                let mut s = json!({
                    "type": "struct",
                    "fields": [
                        {"type": "bytes", "optional": false, "field": "wkb"},
                        {"type": "int32", "optional": true, "field": "srid"}
                    ],
                    "optional": self.nullable,
                    "name": "io.debezium.data.geometry.Geometry",
                    "version": 1,
                    "doc": "Geometry",
                });
                s["field"] = json!(self.name);
                return s;
            }
            _ if self.is_binary() => ("bytes", None, None),
            _ => ("string", None, None),
        };
        let mut s = json!({"type": ty, "optional": self.nullable});
        if let Some(name) = name {
            s["name"] = json!(name);
            s["version"] = json!(1);
        }
        if let Some(params) = params {
            s["parameters"] = params;
        }
        s["field"] = json!(self.name);
        s
    }
}

fn decimal_schema(
    scale: usize,
    precision: usize,
) -> (&'static str, Option<&'static str>, Option<Json>) {
    (
        "bytes",
        Some("org.apache.kafka.connect.data.Decimal"),
        Some(
            json!({"scale": scale.to_string(), "connect.decimal.precision": precision.to_string()}),
        ),
    )
}

/// A table as one table map describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The database.
    pub db: String,
    /// The table.
    pub table: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnMeta>,
}

impl TableSchema {
    /// Reads the columns out of a table map event. Fails when the optional metadata is
    /// malformed or column names are missing (`binlog_row_metadata` is not FULL).
    pub fn from_tme(tme: &TableMapEvent<'_>) -> Result<Self, String> {
        let count = usize::try_from(tme.columns_count()).map_err(|e| e.to_string())?;
        let extractor =
            OptionalMetaExtractor::new(tme.iter_optional_meta()).map_err(|e| e.to_string())?;
        let mut signedness = extractor.iter_signedness();
        let mut charsets = extractor.iter_charset();
        let mut enum_set_charsets = extractor.iter_enum_and_set_charset();
        let mut names = extractor.iter_column_name();
        let mut pk = Vec::new();
        for i in extractor.iter_primary_key() {
            pk.push(i.map_err(|e| e.to_string())?);
        }
        let mut enums: Vec<Vec<String>> = Vec::new();
        let mut sets: Vec<Vec<String>> = Vec::new();
        let mut geometries: Vec<bool> = Vec::new();
        for field in tme.iter_optional_meta() {
            match field.map_err(|e| e.to_string())? {
                OptionalMetadataField::EnumStrValue(v) => {
                    for values in v.iter_values() {
                        let values = values.map_err(|e| e.to_string())?;
                        enums.push(
                            values
                                .values()
                                .iter()
                                .map(|s| s.value().into_owned())
                                .collect(),
                        );
                    }
                }
                OptionalMetadataField::GeometryType(v) => {
                    for ty in v.iter_geometry_types() {
                        geometries.push(matches!(ty, Ok(GeometryType::GEOM_POINT)));
                    }
                }
                OptionalMetadataField::SetStrValue(v) => {
                    for values in v.iter_values() {
                        let values = values.map_err(|e| e.to_string())?;
                        sets.push(
                            values
                                .values()
                                .iter()
                                .map(|s| s.value().into_owned())
                                .collect(),
                        );
                    }
                }
                _ => {}
            }
        }
        let (mut enums, mut sets) = (enums.into_iter(), sets.into_iter());
        let mut geometries = geometries.into_iter();
        let nulls = tme.null_bitmask();
        let mut columns = Vec::with_capacity(count);
        for i in 0..count {
            let column_type = tme
                .get_column_type(i)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no type for column {i}"))?;
            let unsigned = column_type.is_numeric_type() && signedness.next().unwrap_or(false);
            let charset = if column_type.is_character_type() {
                charsets
                    .next()
                    .transpose()
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0)
            } else if column_type.is_enum_or_set_type() {
                enum_set_charsets
                    .next()
                    .transpose()
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0)
            } else {
                0
            };
            let name = names
                .next()
                .transpose()
                .map_err(|e| e.to_string())?
                .map(|n| n.name().into_owned())
                .ok_or_else(|| {
                    "the table map has no column names: set binlog_row_metadata=FULL".to_owned()
                })?;
            let mut col = ColumnMeta::new(&name, column_type);
            col.meta = tme.get_column_metadata(i).unwrap_or(&[]).to_vec();
            col.unsigned = unsigned;
            col.charset = charset;
            col.primary_key = pk.contains(&(i as u64));
            col.nullable = nulls.get(i).is_some_and(|b| *b);
            if column_type == ColumnType::MYSQL_TYPE_GEOMETRY {
                col.point = geometries.next().unwrap_or(false);
            } else if column_type.is_enum_type() {
                col.enum_values = enums.next().unwrap_or_default();
            } else if column_type.is_set_type() {
                col.set_values = sets.next().unwrap_or_default();
            }
            columns.push(col);
        }
        Ok(Self {
            db: tme.database_name().into_owned(),
            table: tme.table_name().into_owned(),
            columns,
        })
    }

    /// The primary-key columns' indexes.
    pub fn key_columns(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|i| self.columns[*i].primary_key)
            .collect()
    }
}
