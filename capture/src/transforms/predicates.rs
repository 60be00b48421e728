//! Kafka Connect's predicates (`predicates`, `predicates.<name>.type`): which records a
//! transform applies to.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;

use super::{ConnectRecord, Options};
use crate::{Error, Result};

/// `org.apache.kafka.connect.transforms.predicates.TopicNameMatches`.
pub const TOPIC_NAME_MATCHES: &str =
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";
/// `org.apache.kafka.connect.transforms.predicates.RecordIsTombstone`.
pub const RECORD_IS_TOMBSTONE: &str =
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone";
/// `org.apache.kafka.connect.transforms.predicates.HasHeaderKey`.
pub const HAS_HEADER_KEY: &str = "org.apache.kafka.connect.transforms.predicates.HasHeaderKey";

/// A condition on a record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Predicate {
    /// The whole topic name matches `pattern` (as Java's `Matcher.matches()`).
    TopicNameMatches(Regex),
    /// The value is null.
    RecordIsTombstone,
    /// A header of this name exists.
    HasHeaderKey(String),
}

impl Predicate {
    /// Whether `record` satisfies it.
    pub fn test(&self, record: &ConnectRecord) -> bool {
        match self {
            Predicate::TopicNameMatches(re) => re.is_match(&record.topic),
            Predicate::RecordIsTombstone => record.value.is_none(),
            Predicate::HasHeaderKey(name) => record.headers.iter().any(|h| &h.key == name),
        }
    }
}

/// Compiles a Java-style pattern that must match the whole input.
pub(crate) fn whole_match(key: &str, pattern: &str) -> Result<Regex> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::config(key, pattern, format!("a regular expression ({e})")))
}

/// Parses every predicate listed in `predicates`.
pub(super) fn from_properties(
    props: &BTreeMap<String, String>,
    used: &mut Vec<String>,
) -> Result<BTreeMap<String, Arc<Predicate>>> {
    let mut out = BTreeMap::new();
    let Some(list) = props.get("predicates").filter(|v| !v.trim().is_empty()) else {
        return Ok(out);
    };
    used.push("predicates".to_owned());
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let mut opts = Options::new(&format!("predicates.{name}"), props);
        let type_key = opts.key("type");
        let kind = opts.required("type", "the predicate's class name")?;
        let predicate = match kind.as_str() {
            TOPIC_NAME_MATCHES => {
                let pattern = opts.required("pattern", "a regular expression for topic names")?;
                Predicate::TopicNameMatches(whole_match(&opts.key("pattern"), &pattern)?)
            }
            RECORD_IS_TOMBSTONE => Predicate::RecordIsTombstone,
            HAS_HEADER_KEY => Predicate::HasHeaderKey(opts.required("name", "a header name")?),
            other => {
                return Err(Error::config(
                    &type_key,
                    other,
                    [TOPIC_NAME_MATCHES, RECORD_IS_TOMBSTONE, HAS_HEADER_KEY].join(", "),
                ));
            }
        };
        used.extend(opts.into_used());
        out.insert(name.to_owned(), Arc::new(predicate));
    }
    Ok(out)
}
