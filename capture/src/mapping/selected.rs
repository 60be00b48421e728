//! Columns as `information_schema.COLUMNS` describes them, and values as a snapshot `SELECT`
//! returns them, brought into the shape the binlog path has, so that [`super::map_value`] and
//! [`ColumnMeta::connect_schema`] map a snapshot row exactly as a streamed one.
//!
//! The snapshot selects ENUM, SET and BIT columns as `col+0` (their index or bits),
//! TIMESTAMP columns as `UNIX_TIMESTAMP(col)`, everything else as is, with
//! `character_set_results=binary` so character columns arrive in their stored charset.

use mysql_async::Value;
use mysql_common::constants::ColumnType;

use super::ColumnMeta;
use super::charset;

/// One column of `information_schema.COLUMNS`, the snapshot's source of column metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnDefinition {
    /// `COLUMN_NAME`.
    pub name: String,
    /// `DATA_TYPE`, e.g. `int`, `varchar`, `enum`.
    pub data_type: String,
    /// `COLUMN_TYPE`, e.g. `int(10) unsigned`, `enum('a','b')`.
    pub column_type: String,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// `COLUMN_KEY = 'PRI'`.
    pub primary_key: bool,
    /// `NUMERIC_PRECISION` (DECIMAL digits, BIT length).
    pub numeric_precision: Option<u64>,
    /// `NUMERIC_SCALE`.
    pub numeric_scale: Option<u64>,
    /// `DATETIME_PRECISION` (fractional-second digits).
    pub datetime_precision: Option<u64>,
    /// `CHARACTER_SET_NAME` (`None` for binary and non-character columns).
    pub charset_name: Option<String>,
    /// The id of `COLLATION_NAME` (`None` for binary and non-character columns).
    pub collation_id: Option<u16>,
}

/// How the snapshot selects a column so that [`normalize_selected`] can reshape its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectAs {
    /// The column itself.
    Plain,
    /// `col+0`: ENUM index, SET bits, BIT value.
    Number,
    /// `UNIX_TIMESTAMP(col)`.
    UnixTimestamp,
}

impl ColumnDefinition {
    /// The shared column description the binlog path builds from its table map: the binlog
    /// column type with the metadata bytes the mapping reads (DECIMAL precision and scale,
    /// fractional-second precision, BIT length), the collation id, ENUM/SET values.
    pub fn to_column_meta(&self) -> Result<ColumnMeta, String> {
        use ColumnType::*;
        let dt = self.data_type.to_ascii_lowercase();
        let narrow = |v: Option<u64>| u8::try_from(v.unwrap_or(0)).unwrap_or(u8::MAX);
        let (column_type, meta): (ColumnType, Vec<u8>) = match dt.as_str() {
            "tinyint" | "bool" | "boolean" => (MYSQL_TYPE_TINY, vec![]),
            "smallint" => (MYSQL_TYPE_SHORT, vec![]),
            "mediumint" => (MYSQL_TYPE_INT24, vec![]),
            "int" | "integer" => (MYSQL_TYPE_LONG, vec![]),
            "bigint" => (MYSQL_TYPE_LONGLONG, vec![]),
            "float" => (MYSQL_TYPE_FLOAT, vec![4]),
            "double" | "real" | "double precision" => (MYSQL_TYPE_DOUBLE, vec![8]),
            "decimal" | "numeric" | "dec" | "fixed" => (
                MYSQL_TYPE_NEWDECIMAL,
                vec![narrow(self.numeric_precision), narrow(self.numeric_scale)],
            ),
            "date" => (MYSQL_TYPE_DATE, vec![]),
            "time" => (MYSQL_TYPE_TIME2, vec![narrow(self.datetime_precision)]),
            "datetime" => (MYSQL_TYPE_DATETIME2, vec![narrow(self.datetime_precision)]),
            "timestamp" => (MYSQL_TYPE_TIMESTAMP2, vec![narrow(self.datetime_precision)]),
            "year" => (MYSQL_TYPE_YEAR, vec![]),
            "bit" => {
                let n = self.numeric_precision.unwrap_or(1);
                (MYSQL_TYPE_BIT, vec![(n % 8) as u8, (n / 8) as u8])
            }
            "char" | "binary" => (MYSQL_TYPE_STRING, vec![]),
            "varchar" | "varbinary" => (MYSQL_TYPE_VARCHAR, vec![]),
            "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob"
            | "mediumblob" | "longblob" | "json" => (MYSQL_TYPE_BLOB, vec![]),
            "enum" => (MYSQL_TYPE_ENUM, vec![]),
            "set" => (MYSQL_TYPE_SET, vec![]),
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" => (MYSQL_TYPE_GEOMETRY, vec![]),
            other => return Err(format!("column type `{other}` is not supported")),
        };
        let mut col = ColumnMeta::new(&self.name, column_type);
        col.meta = meta;
        col.unsigned = column_type.is_numeric_type()
            && self.column_type.to_ascii_lowercase().contains("unsigned");
        col.charset = match (
            column_type.is_character_type() || column_type.is_enum_or_set_type(),
            self.collation_id,
        ) {
            (true, Some(id)) => id,
            (true, None) => charset::BINARY,
            (false, _) => 0,
        };
        if column_type == MYSQL_TYPE_GEOMETRY {
            col.charset = charset::BINARY;
            col.point = self.data_type.eq_ignore_ascii_case("point");
        }
        col.primary_key = self.primary_key;
        col.nullable = self.nullable;
        match column_type {
            MYSQL_TYPE_ENUM => col.enum_values = quoted_list(&self.column_type)?,
            MYSQL_TYPE_SET => col.set_values = quoted_list(&self.column_type)?,
            _ => {}
        }
        Ok(col)
    }

    /// How the snapshot selects this column.
    pub fn select_as(&self) -> SelectAs {
        match self.data_type.to_ascii_lowercase().as_str() {
            "enum" | "set" | "bit" => SelectAs::Number,
            "timestamp" => SelectAs::UnixTimestamp,
            _ => SelectAs::Plain,
        }
    }
}

/// The values of `enum('a','b''c')` / `set(...)`: single-quoted, `''` and `\` escapes.
fn quoted_list(column_type: &str) -> Result<Vec<String>, String> {
    let bad = || format!("cannot read the values of `{column_type}`");
    let open = column_type.find('(').ok_or_else(bad)?;
    let mut chars = column_type[open + 1..].chars().peekable();
    let mut out = Vec::new();
    loop {
        match chars.next() {
            Some('\'') => {
                let mut value = String::new();
                loop {
                    match chars.next().ok_or_else(bad)? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        '\'' => break,
                        '\\' => value.push(chars.next().ok_or_else(bad)?),
                        c => value.push(c),
                    }
                }
                out.push(value);
            }
            Some(',' | ' ') => {}
            Some(')') => return Ok(out),
            _ => return Err(bad()),
        }
    }
}

/// Reshapes a value selected as `how` into the form the binlog decoder produces for `col`:
/// ENUM as its index (`Int`), SET as its little-endian bit bytes, BIT as big-endian bytes of
/// its length, TIMESTAMP as `"secs"` or `"secs.micros"` text.
pub fn normalize_selected(col: &ColumnMeta, how: SelectAs, value: Value) -> Result<Value, String> {
    if matches!(value, Value::NULL) {
        return Ok(value);
    }
    let number = |v: &Value| -> Result<u64, String> {
        match v {
            Value::Int(i) => u64::try_from(*i).map_err(|e| e.to_string()),
            Value::UInt(u) => Ok(*u),
            Value::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("not a number: {v:?}")),
            other => Err(format!("not a number: {other:?}")),
        }
    };
    match (how, col.column_type) {
        (SelectAs::Number, ColumnType::MYSQL_TYPE_ENUM) => Ok(Value::Int(
            i64::try_from(number(&value)?).map_err(|e| e.to_string())?,
        )),
        (SelectAs::Number, ColumnType::MYSQL_TYPE_SET) => {
            let bits = number(&value)?;
            let len = col.set_values.len().div_ceil(8).max(1);
            Ok(Value::Bytes(bits.to_le_bytes()[..len.min(8)].to_vec()))
        }
        (SelectAs::Number, ColumnType::MYSQL_TYPE_BIT) => {
            let bits = number(&value)?;
            let len = col.bit_length().div_ceil(8).clamp(1, 8);
            Ok(Value::Bytes(bits.to_be_bytes()[8 - len..].to_vec()))
        }
        (SelectAs::UnixTimestamp, _) => {
            let text = match &value {
                Value::Int(i) => i.to_string(),
                Value::UInt(u) => u.to_string(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                other => return Err(format!("not a UNIX timestamp: {other:?}")),
            };
            let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
            let micros: u32 = format!("{frac:0<6}")
                .get(..6)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| format!("not a UNIX timestamp: {text}"))?;
            Ok(Value::Bytes(if micros == 0 {
                secs.as_bytes().to_vec()
            } else {
                format!("{secs}.{micros:06}").into_bytes()
            }))
        }
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(data_type: &str, column_type: &str) -> ColumnDefinition {
        ColumnDefinition {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            ..ColumnDefinition::default()
        }
    }

    #[test]
    fn builds_the_metadata_the_binlog_would_carry() {
        let mut d = def("decimal", "decimal(10,2)");
        d.numeric_precision = Some(10);
        d.numeric_scale = Some(2);
        let c = d.to_column_meta().unwrap();
        assert_eq!((c.precision(), c.scale()), (10, 2));
        let mut d = def("datetime", "datetime(6)");
        d.datetime_precision = Some(6);
        assert_eq!(d.to_column_meta().unwrap().fsp(), 6);
        let mut d = def("bit", "bit(16)");
        d.numeric_precision = Some(16);
        assert_eq!(d.to_column_meta().unwrap().bit_length(), 16);
        let mut d = def("bit", "bit(1)");
        d.numeric_precision = Some(1);
        assert_eq!(d.to_column_meta().unwrap().bit_length(), 1);
        assert!(
            def("int", "int(10) unsigned")
                .to_column_meta()
                .unwrap()
                .unsigned
        );
        assert!(def("blob", "blob").to_column_meta().unwrap().is_binary());
        let e = def("enum", "enum('a','it''s','b\\\\c')")
            .to_column_meta()
            .unwrap();
        assert_eq!(e.enum_values, ["a", "it's", "b\\c"]);
        assert!(
            def("uuid", "uuid")
                .to_column_meta()
                .unwrap_err()
                .contains("uuid")
        );
    }

    #[test]
    fn reshapes_values_as_the_binlog_decoder_does() {
        let set = def("set", "set('a','b','c')").to_column_meta().unwrap();
        assert_eq!(
            normalize_selected(&set, SelectAs::Number, Value::UInt(5)).unwrap(),
            Value::Bytes(vec![5])
        );
        let e = def("enum", "enum('a','b')").to_column_meta().unwrap();
        assert_eq!(
            normalize_selected(&e, SelectAs::Number, Value::UInt(2)).unwrap(),
            Value::Int(2)
        );
        let mut b = def("bit", "bit(16)");
        b.numeric_precision = Some(16);
        let b = b.to_column_meta().unwrap();
        assert_eq!(
            normalize_selected(&b, SelectAs::Number, Value::UInt(0x0102)).unwrap(),
            Value::Bytes(vec![1, 2])
        );
        let ts = def("timestamp", "timestamp(3)").to_column_meta().unwrap();
        assert_eq!(
            normalize_selected(
                &ts,
                SelectAs::UnixTimestamp,
                Value::Bytes(b"1529501823.120".to_vec())
            )
            .unwrap(),
            Value::Bytes(b"1529501823.120000".to_vec())
        );
        assert_eq!(
            normalize_selected(
                &ts,
                SelectAs::UnixTimestamp,
                Value::Bytes(b"7.000".to_vec())
            )
            .unwrap(),
            Value::Bytes(b"7".to_vec())
        );
        assert_eq!(
            normalize_selected(&ts, SelectAs::Plain, Value::NULL).unwrap(),
            Value::NULL
        );
    }
}
