//! `database.include.list`, `table.include.list`, `table.exclude.list`: comma-separated regular
//! expressions matched against the whole `db` or `db.table` name, as Debezium does.

use regex::Regex;

use crate::{Error, Result};

/// Which tables are captured.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    database_include: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
}

fn parse_list(key: &str, value: Option<&str>) -> Result<Vec<Regex>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|error| {
                Error::config(
                    key,
                    value,
                    format!("comma-separated regular expressions (`{p}`: {error})"),
                )
            })
        })
        .collect()
}

impl TableFilter {
    /// Builds the filter from the three lists (each optional).
    pub fn new(
        database_include: Option<&str>,
        table_include: Option<&str>,
        table_exclude: Option<&str>,
    ) -> Result<Self> {
        Ok(Self {
            database_include: parse_list("database.include.list", database_include)?,
            table_include: parse_list("table.include.list", table_include)?,
            table_exclude: parse_list("table.exclude.list", table_exclude)?,
        })
    }

    /// Whether database `db` is captured at all (`database.include.list`; system databases
    /// never are).
    pub fn includes_database(&self, db: &str) -> bool {
        !is_system_database(db)
            && (self.database_include.is_empty()
                || self.database_include.iter().any(|r| r.is_match(db)))
    }

    /// Whether changes to `db.table` are captured.
    pub fn includes(&self, db: &str, table: &str) -> bool {
        if is_system_database(db) {
            return false;
        }
        if !self.database_include.is_empty()
            && !self.database_include.iter().any(|r| r.is_match(db))
        {
            return false;
        }
        let full = format!("{db}.{table}");
        if !self.table_include.is_empty() && !self.table_include.iter().any(|r| r.is_match(&full)) {
            return false;
        }
        !self.table_exclude.iter().any(|r| r.is_match(&full))
    }
}

fn is_system_database(db: &str) -> bool {
    matches!(
        db,
        "mysql" | "sys" | "performance_schema" | "information_schema"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_and_exclude_lists_match_whole_names() {
        let f = TableFilter::new(Some("shop,keel_.*"), None, Some("shop\\.audit.*")).unwrap();
        assert!(f.includes("shop", "orders"));
        assert!(f.includes("keel_x", "t"));
        assert!(!f.includes("shop2", "orders"));
        assert!(!f.includes("shop", "audit_log"));
        assert!(!f.includes("mysql", "user"));
        assert!(f.includes_database("shop") && !f.includes_database("shop2"));
        assert!(!f.includes_database("mysql"));
        let f = TableFilter::new(None, Some("shop.orders"), None).unwrap();
        assert!(f.includes("shop", "orders"));
        assert!(!f.includes("shop", "orders2"));
    }

    #[test]
    fn a_bad_regex_names_the_key() {
        let err = TableFilter::new(None, Some("a(("), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("table.include.list"), "{err}");
    }
}
