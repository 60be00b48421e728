//! Column values to JSON the way Debezium's MariaDB connector maps them by default, and each
//! column's Kafka Connect schema (for `schemas.enable=true`).

mod charset;
mod decimal;
mod schema;
mod selected;
mod temporal;

use base64::Engine;
use mysql_async::Value;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use serde_json::{Value as Json, json};

pub use schema::{ColumnMeta, TableSchema};
pub use selected::{ColumnDefinition, SelectAs, normalize_selected};

use crate::config::{
    BigintUnsignedHandlingMode, BinaryHandlingMode, DecimalHandlingMode, Handling,
};

/// Maps one column value; the error says why, the caller adds table and column.
pub fn map_value(col: &ColumnMeta, value: &BinlogValue<'_>, h: &Handling) -> Result<Json, String> {
    use ColumnType::*;
    let value = match value {
        BinlogValue::Value(v) => v,
        BinlogValue::Jsonb(j) => {
            let json = serde_json::Value::try_from(j.clone()).map_err(|e| e.to_string())?;
            return Ok(Json::String(json.to_string()));
        }
        BinlogValue::JsonDiff(_) => return Err("partial JSON updates are not supported".into()),
    };
    if matches!(value, Value::NULL) {
        return Ok(Json::Null);
    }
    let bad = || {
        format!(
            "unexpected value {value:?} for column type {:?}",
            col.column_type
        )
    };
    match col.column_type {
        // mysql_common reads a signed MEDIUMINT from the binlog without sign extension.
        MYSQL_TYPE_INT24 if !col.unsigned => match value {
            Value::Int(i) if (0x80_0000..=0xff_ffff).contains(i) => Ok(json!(i - 0x100_0000)),
            Value::Int(i) => Ok(json!(i)),
            _ => Err(bad()),
        },
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => match value {
            Value::Int(i) => Ok(json!(i)),
            Value::UInt(u) => Ok(json!(u)),
            _ => Err(bad()),
        },
        MYSQL_TYPE_LONGLONG => match (value, h.bigint_unsigned) {
            (Value::Int(i), _) => Ok(json!(i)),
            (Value::UInt(u), BigintUnsignedHandlingMode::Precise) => {
                decimal_bytes(&u.to_string(), 0).ok_or_else(bad)
            }
            // Debezium's `long` mode wraps values above 2^63-1, as Java's long does.
            (Value::UInt(u), _) => Ok(json!(*u as i64)),
            _ => Err(bad()),
        },
        MYSQL_TYPE_FLOAT => match value {
            // Via the shortest decimal text of the f32, as Jackson writes a float.
            Value::Float(f) => f
                .to_string()
                .parse::<f64>()
                .map(|d| json!(d))
                .map_err(|e| e.to_string()),
            Value::Double(d) => Ok(json!(d)),
            _ => Err(bad()),
        },
        MYSQL_TYPE_DOUBLE => match value {
            Value::Double(d) => Ok(json!(d)),
            Value::Float(f) => Ok(json!(f64::from(*f))),
            _ => Err(bad()),
        },
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => {
            let Value::Bytes(b) = value else {
                return Err(bad());
            };
            let text = std::str::from_utf8(b).map_err(|e| e.to_string())?;
            match h.decimal {
                DecimalHandlingMode::Precise => decimal_bytes(text, col.scale()).ok_or_else(bad),
                DecimalHandlingMode::String => Ok(Json::String(text.to_owned())),
                DecimalHandlingMode::Double => text
                    .parse::<f64>()
                    .map(|d| json!(d))
                    .map_err(|e| e.to_string()),
            }
        }
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => temporal::date(value).ok_or_else(bad),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => {
            temporal::time(value, h.time_precision).ok_or_else(bad)
        }
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => {
            temporal::datetime(value, col.fsp(), h.time_precision).ok_or_else(bad)
        }
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => {
            temporal::timestamp(value, col.fsp()).ok_or_else(bad)
        }
        MYSQL_TYPE_YEAR => match value {
            // mysql_common adds 1900 to the stored byte, so the zero year comes as 1900.
            Value::Bytes(b) => match std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
            {
                Some(1900) => Ok(json!(0)),
                Some(y) => Ok(json!(y)),
                None => Err(bad()),
            },
            Value::Int(y) => Ok(json!(y)),
            _ => Err(bad()),
        },
        MYSQL_TYPE_BIT => {
            let Value::Bytes(b) = value else {
                return Err(bad());
            };
            if col.bit_length() == 1 {
                Ok(Json::Bool(b.iter().any(|x| *x != 0)))
            } else {
                // Binlog is big-endian; Debezium's Bits are little-endian.
                let le: Vec<u8> = b.iter().rev().copied().collect();
                Ok(Json::String(
                    base64::engine::general_purpose::STANDARD.encode(le),
                ))
            }
        }
        MYSQL_TYPE_ENUM => match value {
            Value::Int(0) => Ok(Json::String(String::new())),
            Value::Int(i) => usize::try_from(*i - 1)
                .ok()
                .and_then(|i| col.enum_values.get(i))
                .map(|s| Json::String(s.clone()))
                .ok_or_else(|| {
                    format!("ENUM index {i} without a value (binlog_row_metadata=FULL?)")
                }),
            _ => Err(bad()),
        },
        MYSQL_TYPE_SET => {
            let Value::Bytes(b) = value else {
                return Err(bad());
            };
            let mut bits: u64 = 0;
            for (i, byte) in b.iter().enumerate().take(8) {
                bits |= u64::from(*byte) << (8 * i);
            }
            let names: Vec<&str> = col
                .set_values
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1u64 << i) != 0)
                .map(|(_, s)| s.as_str())
                .collect();
            Ok(Json::String(names.join(",")))
        }
        MYSQL_TYPE_GEOMETRY => {
            let Value::Bytes(b) = value else {
                return Err(bad());
            };
            if b.len() < 4 {
                return Err("geometry shorter than its SRID".into());
            }
            let srid = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let wkb = base64::engine::general_purpose::STANDARD.encode(&b[4..]);
            let srid = if srid == 0 { Json::Null } else { json!(srid) };
            if col.point {
                let (x, y) = point_xy(&b[4..]).ok_or("a POINT column's WKB is not a point")?;
                return Ok(json!({"x": x, "y": y, "wkb": wkb, "srid": srid}));
            }
            Ok(json!({"wkb": wkb, "srid": srid}))
        }
        MYSQL_TYPE_STRING
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB => {
            let Value::Bytes(b) = value else {
                return Err(bad());
            };
            if let Some(n) = col.binary_length()
                && b.len() < n
            {
                let mut padded = b.clone();
                padded.resize(n, 0);
                return Ok(binary(&padded, h.binary));
            }
            if col.is_binary() {
                return Ok(binary(b, h.binary));
            }
            charset::decode(col.charset, b)
                .map(Json::String)
                .ok_or_else(|| {
                    format!(
                        "bytes not decodable in collation id {} (not a supported charset)",
                        col.charset
                    )
                })
        }
        other => Err(format!("column type {other:?} is not supported")),
    }
}

/// A WKB point's coordinates: byte order (1 little-endian, 0 big-endian), type 1, x, y.
fn point_xy(wkb: &[u8]) -> Option<(f64, f64)> {
    let little = match wkb.first()? {
        1 => true,
        0 => false,
        _ => return None,
    };
    let word = |at: usize| -> Option<[u8; 8]> { wkb.get(at..at + 8)?.try_into().ok() };
    let ty: [u8; 4] = wkb.get(1..5)?.try_into().ok()?;
    let ty = if little {
        u32::from_le_bytes(ty)
    } else {
        u32::from_be_bytes(ty)
    };
    if ty != 1 {
        return None;
    }
    let f = |b: [u8; 8]| {
        if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    Some((f(word(5)?), f(word(13)?)))
}

/// A snapshot read's value in the form Debezium's snapshot writes it, where that differs from
/// its streaming form: TIMESTAMP's fraction without trailing zeros (`…03.12Z`, `…03Z`; streamed
/// events keep the column's precision, `…03.120Z`).
pub fn snapshot_form(col: &ColumnMeta, value: Json) -> Json {
    match (col.column_type, value) {
        (ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2, Json::String(s)) => {
            Json::String(temporal::trim_fraction(&s))
        }
        (_, value) => value,
    }
}

fn decimal_bytes(text: &str, scale: usize) -> Option<Json> {
    decimal::unscaled_bytes(text, scale)
        .map(|b| Json::String(base64::engine::general_purpose::STANDARD.encode(b)))
}

fn binary(bytes: &[u8], mode: BinaryHandlingMode) -> Json {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    Json::String(match mode {
        BinaryHandlingMode::Base64UrlSafe => URL_SAFE.encode(bytes),
        BinaryHandlingMode::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        _ => STANDARD.encode(bytes),
    })
}

#[cfg(test)]
mod tests;
