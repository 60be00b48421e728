//! Checks at start: the server writes a binlog capture can read, and the user may read it.

use std::collections::BTreeMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::{Error, Result};

/// What each server variable must be (`(variable, needed value)`).
pub const REQUIRED_VARIABLES: &[(&str, &str)] = &[
    ("log_bin", "ON"),
    ("binlog_format", "ROW"),
    ("binlog_row_image", "FULL"),
    ("binlog_row_metadata", "FULL"),
    ("log_bin_compress", "OFF"),
];

/// The privileges capture needs, each with the names that grant it.
pub const REQUIRED_GRANTS: &[(&str, &[&str])] = &[
    ("SELECT", &["SELECT"]),
    ("RELOAD", &["RELOAD"]),
    ("SHOW DATABASES", &["SHOW DATABASES"]),
    (
        "REPLICATION SLAVE",
        &["REPLICATION SLAVE", "REPLICATION REPLICA"],
    ),
    ("BINLOG MONITOR", &["BINLOG MONITOR", "REPLICATION CLIENT"]),
];

/// Checks the variables; a variable the server does not have (e.g. `log_bin_compress` on
/// MySQL) passes when its needed value is `OFF`.
pub fn check_variables(vars: &BTreeMap<String, String>) -> Result<()> {
    for (name, needed) in REQUIRED_VARIABLES {
        let actual = vars.get(*name).map(|v| v.to_ascii_uppercase());
        let ok = match actual.as_deref() {
            Some(v) => {
                v == *needed || (*needed == "ON" && v == "1") || (*needed == "OFF" && v == "0")
            }
            None => *needed == "OFF",
        };
        if !ok {
            return Err(Error::ServerVariable {
                variable: (*name).to_owned(),
                actual: actual.unwrap_or_else(|| "absent".into()),
                needed: format!("{name}={needed}"),
            });
        }
    }
    Ok(())
}

/// The privileges granted globally (`ON *.*`) by `SHOW GRANTS` lines.
fn global_privileges(grants: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in grants {
        let upper = line.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privs, target)) = rest.split_once(" ON ") else {
            continue;
        };
        if !target.trim_start().starts_with("*.*") {
            continue;
        }
        out.extend(privs.split(',').map(|p| p.trim().to_owned()));
    }
    out
}

/// The required privileges that `SHOW GRANTS` lines do not grant globally.
pub fn missing_grants(grants: &[String]) -> Vec<String> {
    let have = global_privileges(grants);
    if have.iter().any(|p| p == "ALL PRIVILEGES" || p == "ALL") {
        return Vec::new();
    }
    REQUIRED_GRANTS
        .iter()
        .filter(|(_, names)| !names.iter().any(|n| have.iter().any(|h| h == n)))
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// Runs both checks on `conn`.
pub async fn run(conn: &mut Conn) -> Result<()> {
    let names: Vec<String> = REQUIRED_VARIABLES
        .iter()
        .map(|(n, _)| format!("'{n}'"))
        .collect();
    let rows: Vec<(String, String)> = conn
        .query(format!(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
            names.join(",")
        ))
        .await?;
    check_variables(&rows.into_iter().collect())?;
    let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    let grants: Vec<String> = conn.query("SHOW GRANTS FOR CURRENT_USER()").await?;
    let missing = missing_grants(&grants);
    if !missing.is_empty() {
        return Err(Error::MissingGrants {
            user: user.unwrap_or_default(),
            missing,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = REQUIRED_VARIABLES
            .iter()
            .map(|(n, val)| ((*n).to_owned(), (*val).to_owned()))
            .collect();
        for (k, val) in pairs {
            v.insert((*k).to_owned(), (*val).to_owned());
        }
        v
    }

    #[test]
    fn wrong_variables_are_named_with_the_value_needed() {
        assert!(check_variables(&vars(&[])).is_ok());
        for (name, bad, needed) in [
            ("binlog_format", "MIXED", "binlog_format=ROW"),
            ("binlog_row_image", "MINIMAL", "binlog_row_image=FULL"),
            ("log_bin_compress", "ON", "log_bin_compress=OFF"),
            ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata=FULL"),
        ] {
            let err = check_variables(&vars(&[(name, bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(name) && err.contains(bad) && err.contains(needed),
                "{err}"
            );
        }
        let mut v = vars(&[]);
        v.remove("log_bin_compress");
        assert!(check_variables(&v).is_ok());
    }

    #[test]
    fn grants_are_read_from_show_grants() {
        let full = vec![
            "GRANT SELECT, RELOAD, SHOW DATABASES, BINLOG MONITOR, REPLICATION SLAVE, LOCK TABLES ON *.* TO `keel`@`127.0.0.1` IDENTIFIED BY PASSWORD '*X'".to_owned(),
        ];
        assert!(missing_grants(&full).is_empty());
        let all =
            vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`127.0.0.1` WITH GRANT OPTION".to_owned()];
        assert!(missing_grants(&all).is_empty());
        let few = vec![
            "GRANT REPLICATION CLIENT ON *.* TO `u`@`%`".to_owned(),
            "GRANT SELECT, RELOAD ON `shop`.* TO `u`@`%`".to_owned(),
        ];
        assert_eq!(
            missing_grants(&few),
            ["SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE"]
        );
    }
}
