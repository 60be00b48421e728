//! A data type as Debezium's MariaDB DDL parser describes it: JDBC type code, type name
//! (the type's words and its SIGNED/UNSIGNED/ZEROFILL suffixes, upper-cased), length, scale,
//! charset and ENUM/SET values.

use super::ast::DataType;

/// `java.sql.Types` codes.
pub(crate) mod jdbc {
    pub(crate) const BIT: i32 = -7;
    pub(crate) const SMALLINT: i32 = 5;
    pub(crate) const INTEGER: i32 = 4;
    pub(crate) const BIGINT: i32 = -5;
    pub(crate) const FLOAT: i32 = 6;
    pub(crate) const REAL: i32 = 7;
    pub(crate) const DOUBLE: i32 = 8;
    pub(crate) const NUMERIC: i32 = 2;
    pub(crate) const DECIMAL: i32 = 3;
    pub(crate) const CHAR: i32 = 1;
    pub(crate) const VARCHAR: i32 = 12;
    pub(crate) const LONGVARCHAR: i32 = -1;
    pub(crate) const DATE: i32 = 91;
    pub(crate) const TIME: i32 = 92;
    pub(crate) const TIMESTAMP: i32 = 93;
    pub(crate) const BINARY: i32 = -2;
    pub(crate) const VARBINARY: i32 = -3;
    pub(crate) const OTHER: i32 = 1111;
    pub(crate) const BLOB: i32 = 2004;
    pub(crate) const CLOB: i32 = 2005;
    pub(crate) const BOOLEAN: i32 = 16;
    pub(crate) const NCHAR: i32 = -15;
    pub(crate) const NVARCHAR: i32 = -9;
    pub(crate) const LONGNVARCHAR: i32 = -16;
    pub(crate) const NCLOB: i32 = 2011;
    pub(crate) const TIMESTAMP_WITH_TIMEZONE: i32 = 2014;
}

/// What a column's type resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The JDBC type code.
    pub(crate) jdbc_type: i32,
    /// The type name (also the type expression).
    pub(crate) type_name: String,
    /// Length (characters, digits, fraction digits of temporal types, bits).
    pub(crate) length: Option<i32>,
    /// Scale.
    pub(crate) scale: Option<i32>,
    /// The charset written with the type (or derived from its collation); `None` takes the
    /// table's for character types.
    pub(crate) charset: Option<String>,
    /// ENUM/SET values as written, quotes included.
    pub(crate) enum_values: Vec<String>,
}

/// How a type family takes its dimensions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// CHAR, VARCHAR, TEXT...: a length; a charset and collation.
    String,
    /// NCHAR, NVARCHAR, NATIONAL ...: a length; always utf8.
    National,
    /// Numbers, temporal and binary types: a length, or length and scale; numeric ones take
    /// SIGNED/UNSIGNED/ZEROFILL.
    Dimension { numeric: bool },
    /// DATE, BOOLEAN, TINYBLOB...: nothing.
    Simple,
    /// ENUM, SET.
    Collection,
    /// Geometry types and JSON.
    Spatial,
}

/// The JDBC type, family and default (length, scale) of the type words `words`.
fn lookup(words: &[String]) -> Option<(i32, Family, Option<i32>, Option<i32>)> {
    use Family::*;
    use jdbc::*;
    let key = words.join(" ");
    let numeric = Dimension { numeric: true };
    let plain = Dimension { numeric: false };
    Some(match key.as_str() {
        "CHAR" | "CHARACTER" => (CHAR, String, None, None),
        "CHAR VARYING" | "CHARACTER VARYING" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT"
        | "LONGTEXT" | "LONG" | "LONG VARCHAR" => (VARCHAR, String, None, None),
        "NCHAR" | "NATIONAL CHAR" | "NATIONAL CHARACTER" => (NCHAR, National, None, None),
        "NCHAR VARYING"
        | "NCHAR VARCHAR"
        | "NVARCHAR"
        | "NATIONAL VARCHAR"
        | "NATIONAL CHAR VARYING"
        | "NATIONAL CHARACTER VARYING" => (NVARCHAR, National, None, None),
        "TINYINT" | "INT1" | "SMALLINT" | "INT2" => (SMALLINT, numeric, None, None),
        "MEDIUMINT" | "INT3" | "MIDDLEINT" | "INT" | "INTEGER" | "INT4" => {
            (INTEGER, numeric, None, None)
        }
        "BIGINT" | "INT8" => (BIGINT, numeric, None, None),
        "REAL" => (REAL, numeric, None, None),
        "DOUBLE" | "FLOAT8" => (DOUBLE, numeric, None, None),
        "FLOAT" | "FLOAT4" => (FLOAT, numeric, None, None),
        "DECIMAL" | "DEC" | "FIXED" => (DECIMAL, numeric, Some(10), Some(0)),
        "NUMERIC" => (NUMERIC, numeric, Some(10), Some(0)),
        "BIT" => (BIT, plain, Some(1), None),
        "TIME" => (TIME, plain, None, None),
        "TIMESTAMP" => (TIMESTAMP_WITH_TIMEZONE, plain, None, None),
        "DATETIME" => (TIMESTAMP, plain, None, None),
        "BINARY" => (BINARY, plain, None, None),
        "VARBINARY" => (VARBINARY, plain, None, None),
        "BLOB" => (BLOB, plain, None, None),
        "YEAR" => (INTEGER, plain, None, None),
        "DATE" => (DATE, Simple, None, None),
        "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "LONG VARBINARY" => (BLOB, Simple, None, None),
        "BOOL" | "BOOLEAN" => (BOOLEAN, Simple, None, None),
        "SERIAL" => (BIGINT, Simple, None, None),
        "ENUM" | "SET" => (CHAR, Collection, None, None),
        "GEOMETRYCOLLECTION" | "GEOMCOLLECTION" | "LINESTRING" | "MULTILINESTRING"
        | "MULTIPOINT" | "MULTIPOLYGON" | "POINT" | "POLYGON" | "JSON" | "GEOMETRY" => {
            (OTHER, Spatial, None, None)
        }
        _ => return None,
    })
}

/// The charset of a collation name (`utf8mb4_bin` → `utf8mb4`, `binary` → `binary`).
pub(crate) fn charset_of_collation(collation: &str) -> String {
    let lower = collation.to_ascii_lowercase();
    lower.split('_').next().unwrap_or(&lower).to_owned()
}

/// Whether columns of this JDBC type carry a charset (the table's when none is written).
pub(crate) fn uses_charset(jdbc_type: i32) -> bool {
    use jdbc::*;
    matches!(
        jdbc_type,
        CHAR | VARCHAR | LONGVARCHAR | CLOB | NCHAR | NVARCHAR | LONGNVARCHAR | NCLOB
    )
}

fn number(text: &str) -> Result<i32, String> {
    // `DECIMAL(10.2)`-like lengths count their integer part; too large values are capped.
    let int = text.split('.').next().unwrap_or(text);
    match int.parse::<i64>() {
        Ok(n) => Ok(i32::try_from(n).unwrap_or(i32::MAX)),
        Err(_) => Err(format!("`{text}` is not a length")),
    }
}

/// Resolves `dt` as Debezium does. A type Debezium's parser does not know (MariaDB's `UUID`,
/// `INET4`, `INET6`, plugin types) is `OTHER` under its own name, with its dimensions.
pub(crate) fn resolve(dt: &DataType) -> Result<Resolved, String> {
    let (jdbc_type, family, default_length, default_scale) = lookup(&dt.words).unwrap_or((
        jdbc::OTHER,
        Family::Dimension { numeric: false },
        None,
        None,
    ));
    let mut name = dt.words.clone();
    let mut length = None;
    let mut scale = None;
    let mut charset = None;
    let mut enum_values = Vec::new();
    match family {
        Family::String | Family::National => {
            if let Some(d) = dt.dims.first() {
                length = Some(number(d)?);
            }
            if family == Family::String && dt.flags.iter().any(|f| f == "BINARY") {
                name.push("BINARY".into());
            }
            charset = if family == Family::National {
                Some("utf8".to_owned())
            } else {
                dt.charset
                    .clone()
                    .or_else(|| dt.collate.as_deref().map(charset_of_collation))
            };
            if jdbc_type == jdbc::NCHAR && length.is_none() {
                length = Some(1);
            }
        }
        Family::Dimension { numeric } => {
            if let Some(d) = dt.dims.first() {
                length = Some(number(d)?);
            }
            if let Some(s) = dt.dims.get(1) {
                scale = Some(number(s)?);
            }
            if numeric {
                for suffix in ["PRECISION", "SIGNED", "UNSIGNED", "ZEROFILL"] {
                    if dt.flags.iter().any(|f| f == suffix) {
                        name.push(suffix.into());
                    }
                }
            }
        }
        Family::Simple | Family::Spatial => {}
        Family::Collection => {
            charset = dt.charset.clone();
            length = Some(if dt.words[0] == "SET" {
                (dt.options.len() as i32 * 2 - 1).max(0)
            } else {
                1
            });
            enum_values = dt.options.clone();
        }
    }
    if length.is_none() {
        length = default_length;
    }
    if scale.is_none() {
        scale = default_scale;
    }
    let type_name = if dt.words == ["SERIAL"] {
        "BIGINT UNSIGNED".to_owned()
    } else {
        name.join(" ")
    };
    Ok(Resolved {
        jdbc_type,
        type_name,
        length,
        scale,
        charset,
        enum_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(words: &[&str], dims: &[&str], flags: &[&str]) -> DataType {
        DataType {
            words: words.iter().map(|s| (*s).to_owned()).collect(),
            dims: dims.iter().map(|s| (*s).to_owned()).collect(),
            flags: flags.iter().map(|s| (*s).to_owned()).collect(),
            ..DataType::default()
        }
    }

    fn short(r: Resolved) -> (i32, String, Option<i32>, Option<i32>) {
        (r.jdbc_type, r.type_name, r.length, r.scale)
    }

    #[test]
    fn numbers_take_their_suffixes_and_dimensions() {
        assert_eq!(
            short(resolve(&dt(&["INT"], &["10"], &["UNSIGNED"])).unwrap()),
            (4, "INT UNSIGNED".into(), Some(10), None)
        );
        assert_eq!(
            short(resolve(&dt(&["BIGINT"], &[], &["ZEROFILL", "UNSIGNED"])).unwrap()),
            (-5, "BIGINT UNSIGNED ZEROFILL".into(), None, None)
        );
        assert_eq!(
            short(resolve(&dt(&["TINYINT"], &["1"], &[])).unwrap()),
            (5, "TINYINT".into(), Some(1), None)
        );
        assert_eq!(
            short(resolve(&dt(&["DECIMAL"], &[], &[])).unwrap()),
            (3, "DECIMAL".into(), Some(10), Some(0))
        );
        assert_eq!(
            short(resolve(&dt(&["DECIMAL"], &["12", "4"], &[])).unwrap()),
            (3, "DECIMAL".into(), Some(12), Some(4))
        );
        assert_eq!(
            short(resolve(&dt(&["DOUBLE"], &[], &["PRECISION"])).unwrap()),
            (8, "DOUBLE PRECISION".into(), None, None)
        );
        assert_eq!(
            short(resolve(&dt(&["BIT"], &[], &[])).unwrap()),
            (-7, "BIT".into(), Some(1), None)
        );
        assert_eq!(
            short(resolve(&dt(&["TIMESTAMP"], &["3"], &[])).unwrap()),
            (2014, "TIMESTAMP".into(), Some(3), None)
        );
        assert_eq!(
            short(resolve(&dt(&["SERIAL"], &[], &[])).unwrap()),
            (-5, "BIGINT UNSIGNED".into(), None, None)
        );
    }

    #[test]
    fn strings_take_charsets_and_collections_their_values() {
        let mut v = dt(&["VARCHAR"], &["40"], &[]);
        v.collate = Some("latin1_swedish_ci".into());
        let r = resolve(&v).unwrap();
        assert_eq!((r.jdbc_type, r.length), (12, Some(40)));
        assert_eq!(r.charset.as_deref(), Some("latin1"));
        let r = resolve(&dt(&["NCHAR"], &[], &[])).unwrap();
        assert_eq!(
            (r.jdbc_type, r.length, r.charset.as_deref()),
            (-15, Some(1), Some("utf8"))
        );
        let mut e = dt(&["SET"], &[], &[]);
        e.options = vec!["'x'".into(), "'y'".into()];
        let r = resolve(&e).unwrap();
        assert_eq!((r.jdbc_type, r.length), (1, Some(3)));
        assert_eq!(r.enum_values, ["'x'", "'y'"]);
        assert_eq!(
            resolve(&dt(&["CHAR"], &["5"], &["BINARY"]))
                .unwrap()
                .type_name,
            "CHAR BINARY"
        );
        assert_eq!(resolve(&dt(&["JSON"], &[], &[])).unwrap().jdbc_type, 1111);
        assert_eq!(
            short(resolve(&dt(&["INET6"], &[], &[])).unwrap()),
            (1111, "INET6".into(), None, None)
        );
    }
}
