//! The snapshot's `SELECT`: every column in the form the mapping expects, then the raw
//! primary-key columns as the cursor of keyset pagination
//! (`WHERE (pk) > (last) ORDER BY pk LIMIT n`).

use std::fmt::Write as _;

use mysql_async::Value;
use mysql_common::constants::ColumnType;

use super::tables::SnapshotTable;
use crate::mapping::SelectAs;
use crate::offsets::KeyPart;

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl SnapshotTable {
    /// The primary-key column indexes, in column order (as the key of the events).
    pub(crate) fn key_columns(&self) -> Vec<usize> {
        self.schema.key_columns()
    }

    fn key_expr(&self, i: usize) -> String {
        let name = ident(&self.defs[i].name);
        match self.defs[i].select_as() {
            // ENUM and SET order and compare by their number, BIT is a number.
            SelectAs::Number => format!("{name}+0"),
            _ => name,
        }
    }

    /// The next chunk after `after` (from the start when `None`); the whole table in one pass
    /// when it has no primary key.
    pub(crate) fn select(&self, after: Option<&[KeyPart]>, limit: u64) -> Result<String, String> {
        let mut sql = String::from("SELECT ");
        for (i, def) in self.defs.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let name = ident(&def.name);
            match def.select_as() {
                SelectAs::Plain => sql.push_str(&name),
                SelectAs::Number => {
                    let _ = write!(sql, "{name}+0");
                }
                SelectAs::UnixTimestamp => {
                    let _ = write!(sql, "UNIX_TIMESTAMP({name})");
                }
            }
        }
        let key = self.key_columns();
        for i in &key {
            let _ = write!(sql, ", {}", self.key_expr(*i));
        }
        let _ = write!(
            sql,
            " FROM {}.{}",
            ident(&self.schema.db),
            ident(&self.schema.table)
        );
        if key.is_empty() {
            return Ok(sql);
        }
        let cols: Vec<String> = key.iter().map(|i| ident(&self.defs[*i].name)).collect();
        if let Some(after) = after {
            if after.len() != key.len() {
                return Err(format!(
                    "the stored snapshot cursor has {} values for a {}-column primary key",
                    after.len(),
                    key.len()
                ));
            }
            let mut literals = Vec::with_capacity(key.len());
            for (part, i) in after.iter().zip(&key) {
                literals.push(self.literal(*i, part)?);
            }
            let _ = write!(
                sql,
                " WHERE ({}) > ({})",
                cols.join(", "),
                literals.join(", ")
            );
        }
        let _ = write!(sql, " ORDER BY {} LIMIT {limit}", cols.join(", "));
        Ok(sql)
    }

    /// A cursor value as an SQL literal the server compares as it orders the column.
    fn literal(&self, i: usize, part: &KeyPart) -> Result<String, String> {
        let bad = |what: &str| format!("invalid cursor value {what} for `{}`", self.defs[i].name);
        match part {
            KeyPart::Int(v) => Ok(v.to_string()),
            KeyPart::Uint(v) => Ok(v.to_string()),
            KeyPart::Text(t) => {
                if t.chars().all(|c| {
                    c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | ' ' | '+' | 'e' | 'E')
                }) {
                    Ok(format!("'{t}'"))
                } else {
                    Err(bad(t))
                }
            }
            KeyPart::Hex(h) => {
                let charset = self.defs[i].charset_name.as_deref().unwrap_or("binary");
                if !h.chars().all(|c| c.is_ascii_hexdigit())
                    || !charset
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(bad(h));
                }
                Ok(format!("_{charset} X'{h}'"))
            }
        }
    }

    /// The cursor of a selected row from its trailing raw key values.
    pub(crate) fn cursor(&self, raw: &[Value]) -> Result<Vec<KeyPart>, String> {
        let key = self.key_columns();
        let mut out = Vec::with_capacity(key.len());
        for (value, i) in raw.iter().zip(&key) {
            let col = &self.schema.columns[*i];
            let textual = matches!(
                col.column_type,
                ColumnType::MYSQL_TYPE_STRING
                    | ColumnType::MYSQL_TYPE_VARCHAR
                    | ColumnType::MYSQL_TYPE_VAR_STRING
                    | ColumnType::MYSQL_TYPE_BLOB
            );
            out.push(match value {
                Value::Int(v) => KeyPart::Int(*v),
                Value::UInt(v) => KeyPart::Uint(*v),
                Value::Bytes(b) if textual => {
                    KeyPart::Hex(b.iter().map(|x| format!("{x:02x}")).collect())
                }
                Value::Bytes(b) => KeyPart::Text(
                    std::str::from_utf8(b)
                        .map_err(|e| format!("key column `{}`: {e}", col.name))?
                        .to_owned(),
                ),
                Value::Float(f) => KeyPart::Text(f.to_string()),
                Value::Double(d) => KeyPart::Text(d.to_string()),
                Value::Date(y, mo, d, h, mi, s, us) => KeyPart::Text(format!(
                    "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
                )),
                Value::Time(neg, days, h, mi, s, us) => KeyPart::Text(format!(
                    "{}{}:{mi:02}:{s:02}.{us:06}",
                    if *neg { "-" } else { "" },
                    u64::from(*days) * 24 + u64::from(*h)
                )),
                Value::NULL => return Err(format!("key column `{}` is NULL", col.name)),
            });
        }
        if out.len() != key.len() {
            return Err("the row has fewer key values than the primary key".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{ColumnDefinition, TableSchema};

    fn table() -> SnapshotTable {
        let defs = vec![
            ColumnDefinition {
                name: "id".into(),
                data_type: "int".into(),
                column_type: "int(11)".into(),
                primary_key: true,
                ..ColumnDefinition::default()
            },
            ColumnDefinition {
                name: "na`me".into(),
                data_type: "varchar".into(),
                column_type: "varchar(10)".into(),
                primary_key: true,
                charset_name: Some("latin1".into()),
                collation_id: Some(8),
                ..ColumnDefinition::default()
            },
            ColumnDefinition {
                name: "e".into(),
                data_type: "enum".into(),
                column_type: "enum('a')".into(),
                ..ColumnDefinition::default()
            },
            ColumnDefinition {
                name: "ts".into(),
                data_type: "timestamp".into(),
                column_type: "timestamp".into(),
                ..ColumnDefinition::default()
            },
        ];
        let columns = defs.iter().map(|d| d.to_column_meta().unwrap()).collect();
        SnapshotTable {
            defs,
            schema: TableSchema {
                db: "shop".into(),
                table: "t".into(),
                columns,
            },
        }
    }

    #[test]
    fn selects_chunks_after_the_cursor_in_key_order() {
        let t = table();
        assert_eq!(
            t.select(None, 10).unwrap(),
            "SELECT `id`, `na``me`, `e`+0, UNIX_TIMESTAMP(`ts`), `id`, `na``me` \
             FROM `shop`.`t` ORDER BY `id`, `na``me` LIMIT 10"
        );
        let cursor = t
            .cursor(&[Value::Int(5), Value::Bytes(b"gr\xfc".to_vec())])
            .unwrap();
        assert_eq!(cursor, [KeyPart::Int(5), KeyPart::Hex("6772fc".into())]);
        assert!(t.select(Some(&cursor), 10).unwrap().contains(
            "WHERE (`id`, `na``me`) > (5, _latin1 X'6772fc') ORDER BY `id`, `na``me` LIMIT 10"
        ));
        assert!(t.select(Some(&cursor[..1]), 10).is_err());
        let evil = [KeyPart::Int(1), KeyPart::Text("1' OR '1".into())];
        assert!(t.select(Some(&evil), 10).is_err());
    }

    #[test]
    fn a_table_without_a_key_is_read_in_one_pass() {
        let mut t = table();
        t.schema
            .columns
            .iter_mut()
            .for_each(|c| c.primary_key = false);
        assert_eq!(
            t.select(None, 10).unwrap(),
            "SELECT `id`, `na``me`, `e`+0, UNIX_TIMESTAMP(`ts`) FROM `shop`.`t`"
        );
    }
}
