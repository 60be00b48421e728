//! Which database (and table) a DDL statement from the binlog is about: decides whether it
//! concerns captured tables at all, and which table to read from the server when the parser
//! cannot apply it. A small reader of the statement's head, not a SQL parser: it knows `CREATE`,
//! `ALTER`, `DROP`, `RENAME` and `TRUNCATE` of tables, databases, indexes, views and routines.

/// What a DDL statement changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DdlTarget {
    /// The database.
    pub(crate) db: String,
    /// The table, for table and index statements.
    pub(crate) table: Option<String>,
}

/// Skips whitespace and `/* */`, `-- ` and `#` comments.
fn skip_blank(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else if t.starts_with("-- ") || t.starts_with('#') {
            s = t.find('\n').map_or("", |i| &t[i + 1..]);
        } else {
            return t;
        }
    }
}

/// The next word (letters, digits, `_`, `=`) upper-cased, and the rest.
fn word(s: &str) -> (String, &str) {
    let s = skip_blank(s);
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '='))
        .unwrap_or(s.len());
    (s[..end].to_ascii_uppercase(), &s[end..])
}

/// A possibly qualified, possibly back-quoted name: (`qualifier`, `name`), and the rest.
fn name(s: &str) -> Option<(Option<String>, String, &str)> {
    let mut s = skip_blank(s);
    let mut parts = Vec::new();
    loop {
        let part;
        if let Some(rest) = s.strip_prefix('`') {
            let end = rest.find('`')?;
            part = rest[..end].to_owned();
            s = &rest[end + 1..];
        } else {
            let end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(s.len());
            if end == 0 {
                return None;
            }
            part = s[..end].to_owned();
            s = &s[end..];
        }
        parts.push(part);
        match s.strip_prefix('.') {
            Some(rest) => s = rest,
            None => break,
        }
    }
    let last = parts.pop()?;
    Some((parts.pop(), last, s))
}

/// Skips `IF EXISTS` / `IF NOT EXISTS`.
fn skip_if_exists(s: &str) -> &str {
    let (w, rest) = word(s);
    if w != "IF" {
        return s;
    }
    let (w, rest2) = word(rest);
    if w == "NOT" { word(rest2).1 } else { rest2 }
}

/// The target of `query` run with default database `default_db` (empty when none); `None`
/// when it is not DDL of a database (or the database cannot be told).
pub(crate) fn target(query: &str, default_db: &str) -> Option<DdlTarget> {
    let (verb, mut rest) = word(query);
    if !matches!(
        verb.as_str(),
        "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE"
    ) {
        return None;
    }
    let qualify =
        |q: Option<String>| q.or_else(|| (!default_db.is_empty()).then(|| default_db.to_owned()));
    if verb == "TRUNCATE" {
        let (w, after) = word(rest);
        let (q, table, _) = name(if w == "TABLE" { after } else { rest })?;
        return Some(DdlTarget {
            db: qualify(q)?,
            table: Some(table),
        });
    }
    let kind = loop {
        let (w, r) = word(rest);
        rest = r;
        match w.as_str() {
            // Modifiers before the object kind.
            "OR" | "REPLACE" | "ONLINE" | "OFFLINE" | "IGNORE" | "UNIQUE" | "FULLTEXT"
            | "SPATIAL" | "SQL" | "SECURITY" | "DEFINER" | "INVOKER" | "AGGREGATE" => {}
            w if w.starts_with("DEFINER=") || w.starts_with("ALGORITHM=") => {
                // `DEFINER=`user`@`host``: skip to the next blank.
                rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
            }
            "TEMPORARY" => return None,
            other => break other.to_owned(),
        }
    };
    match kind.as_str() {
        "DATABASE" | "SCHEMA" => {
            let (_, db, _) = name(skip_if_exists(rest))?;
            Some(DdlTarget { db, table: None })
        }
        "TABLE" | "TABLES" => {
            let (q, table, _) = name(skip_if_exists(rest))?;
            Some(DdlTarget {
                db: qualify(q)?,
                table: Some(table),
            })
        }
        "INDEX" => {
            let (_, _, after) = name(skip_if_exists(rest))?;
            let (on, after) = word(after);
            if on != "ON" {
                return None;
            }
            let (q, table, _) = name(after)?;
            Some(DdlTarget {
                db: qualify(q)?,
                table: Some(table),
            })
        }
        "VIEW" | "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT" | "SEQUENCE" | "PACKAGE" => {
            let (q, _, _) = name(skip_if_exists(rest))?;
            Some(DdlTarget {
                db: qualify(q)?,
                table: None,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(q: &str, db: &str) -> Option<(String, Option<String>)> {
        target(q, db).map(|t| (t.db, t.table))
    }

    fn table(db: &str, table: &str) -> Option<(String, Option<String>)> {
        Some((db.to_owned(), Some(table.to_owned())))
    }

    #[test]
    fn reads_the_target_of_table_statements() {
        assert_eq!(
            t("ALTER TABLE shop.items ADD c INT", ""),
            table("shop", "items")
        );
        assert_eq!(
            t("alter table items add c int", "shop"),
            table("shop", "items")
        );
        assert_eq!(
            t("CREATE TABLE IF NOT EXISTS `a.b`.`c` (id INT)", ""),
            table("a.b", "c")
        );
        assert_eq!(
            t("DROP TABLE `t` /* generated by server */", "shop"),
            table("shop", "t")
        );
        assert_eq!(
            t("CREATE OR REPLACE TABLE s.t(id INT)", ""),
            table("s", "t")
        );
        assert_eq!(t("RENAME TABLE s.a TO s.b", ""), table("s", "a"));
        assert_eq!(t("TRUNCATE TABLE s.t", ""), table("s", "t"));
        assert_eq!(t("TRUNCATE s.t", ""), table("s", "t"));
        assert_eq!(t("CREATE UNIQUE INDEX i ON s.t (a)", ""), table("s", "t"));
        assert_eq!(t("/* c */ DROP INDEX i ON t", "s"), table("s", "t"));
    }

    #[test]
    fn reads_databases_and_refuses_what_is_not_ddl_of_one() {
        assert_eq!(
            t("CREATE DATABASE shop", ""),
            Some(("shop".to_owned(), None))
        );
        assert_eq!(
            t("DROP SCHEMA IF EXISTS `shop`", ""),
            Some(("shop".to_owned(), None))
        );
        assert_eq!(
            t("CREATE DEFINER=`root`@`%` VIEW s.v AS SELECT 1", ""),
            Some(("s".to_owned(), None))
        );
        assert_eq!(t("ALTER TABLE items ADD c INT", ""), None, "no database");
        assert_eq!(t("CREATE USER x", "s"), None);
        assert_eq!(t("GRANT ALL ON *.* TO x", "s"), None);
        assert_eq!(t("DROP TEMPORARY TABLE IF EXISTS t", "s"), None);
        assert_eq!(t("FLUSH TABLES", "s"), None);
        assert_eq!(t("SAVEPOINT a", "s"), None);
    }
}
