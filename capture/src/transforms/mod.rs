//! Single message transforms, by their Kafka Connect / Debezium names, applied in `transforms`
//! order to every record capture produces (ADR 0032). Each transform is one file; a transform
//! with `transforms.<alias>.predicate` applies only to records its predicate matches
//! (`.negate` inverts it), as in Kafka Connect.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Error, Result};

mod event_router;
mod extract_new_record_state;
mod filter;
mod filter_by_field;
mod insert_field;
mod java_replacement;
mod options;
mod predicates;
mod record;
mod regex_router;

pub use event_router::{EventRouter, InvalidOp};
pub use extract_new_record_state::{DeleteHandling, ExtractNewRecordState};
pub use filter::Filter;
pub use filter_by_field::FilterByField;
pub use insert_field::InsertField;
pub use options::Options;
pub use predicates::{HAS_HEADER_KEY, Predicate, RECORD_IS_TOMBSTONE, TOPIC_NAME_MATCHES};
pub use record::{ConnectRecord, Header, Payload};
pub use regex_router::RegexRouter;

/// `io.debezium.transforms.ExtractNewRecordState`.
pub const EXTRACT_NEW_RECORD_STATE: &str = "io.debezium.transforms.ExtractNewRecordState";
/// `org.apache.kafka.connect.transforms.RegexRouter`.
pub const REGEX_ROUTER: &str = "org.apache.kafka.connect.transforms.RegexRouter";
/// `org.apache.kafka.connect.transforms.InsertField$Value`.
pub const INSERT_FIELD_VALUE: &str = "org.apache.kafka.connect.transforms.InsertField$Value";
/// `org.apache.kafka.connect.transforms.Filter`.
pub const FILTER: &str = "org.apache.kafka.connect.transforms.Filter";
/// `io.keel.transforms.FilterByField` (ours; ADR 0032).
pub const FILTER_BY_FIELD: &str = "io.keel.transforms.FilterByField";
/// `io.debezium.transforms.outbox.EventRouter`.
pub const EVENT_ROUTER: &str = "io.debezium.transforms.outbox.EventRouter";

const TYPES: &[&str] = &[
    EXTRACT_NEW_RECORD_STATE,
    REGEX_ROUTER,
    INSERT_FIELD_VALUE,
    FILTER,
    FILTER_BY_FIELD,
    EVENT_ROUTER,
];

/// One single message transform.
pub trait Transformation: std::fmt::Debug + Send + Sync {
    /// The record after the transform; `Ok(None)` drops it; `Err` says why it cannot be
    /// transformed.
    fn apply(&self, record: ConnectRecord) -> std::result::Result<Option<ConnectRecord>, String>;

    /// Whether it changes the shape of change event values (then the table's value schema no
    /// longer describes them, and `value.converter.schemas.enable=true` is refused).
    fn reshapes_value(&self) -> bool;

    /// Whether it changes the shape of keys (`key.converter.schemas.enable=true` is refused).
    fn reshapes_key(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
struct Step {
    alias: String,
    transform: Arc<dyn Transformation>,
    /// The predicate and `negate`.
    predicate: Option<(Arc<Predicate>, bool)>,
}

/// The configured transforms, in order.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    steps: Vec<Step>,
}

/// A transform that failed on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    /// The transform's alias.
    pub alias: String,
    /// Why.
    pub reason: String,
}

impl Chain {
    /// Whether no transform is configured.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The aliases, in order.
    pub fn aliases(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.alias.as_str()).collect()
    }

    /// The alias of the first transform that reshapes values, if any.
    pub fn value_reshaper(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.transform.reshapes_value())
            .map(|s| s.alias.as_str())
    }

    /// The alias of the first transform that reshapes keys, if any.
    pub fn key_reshaper(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.transform.reshapes_key())
            .map(|s| s.alias.as_str())
    }

    /// Runs `record` through every transform; `Ok(None)` when one dropped it.
    pub fn apply(
        &self,
        mut record: ConnectRecord,
    ) -> std::result::Result<Option<ConnectRecord>, TransformError> {
        for step in &self.steps {
            if let Some((predicate, negate)) = &step.predicate
                && predicate.test(&record) == *negate
            {
                continue;
            }
            match step.transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(reason) => {
                    return Err(TransformError {
                        alias: step.alias.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(Some(record))
    }
}

/// Parses `transforms`, `predicates` and their keys; returns the chain and every key read.
pub fn from_properties(props: &BTreeMap<String, String>) -> Result<(Chain, Vec<String>)> {
    let mut used = Vec::new();
    let predicates = predicates::from_properties(props, &mut used)?;
    let Some(list) = props.get("transforms").filter(|v| !v.trim().is_empty()) else {
        return Ok((Chain::default(), used));
    };
    used.push("transforms".to_owned());
    let mut steps: Vec<Step> = Vec::new();
    for alias in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if steps.iter().any(|s| s.alias == alias) {
            return Err(Error::config(
                "transforms",
                list.clone(),
                format!("distinct aliases (`{alias}` appears twice)"),
            ));
        }
        let mut opts = Options::new(&format!("transforms.{alias}"), props);
        let type_key = opts.key("type");
        let kind = opts.required("type", "the transform's class name")?;
        let transform: Arc<dyn Transformation> = match kind.as_str() {
            EXTRACT_NEW_RECORD_STATE => Arc::new(ExtractNewRecordState::from_options(&mut opts)?),
            REGEX_ROUTER => Arc::new(RegexRouter::from_options(&mut opts)?),
            INSERT_FIELD_VALUE => Arc::new(InsertField::from_options(&mut opts)?),
            FILTER => Arc::new(Filter),
            FILTER_BY_FIELD => Arc::new(FilterByField::from_options(&mut opts)?),
            EVENT_ROUTER => Arc::new(EventRouter::from_options(&mut opts)?),
            other => {
                return Err(Error::config(&type_key, other, TYPES.join(", ")));
            }
        };
        let predicate = match opts.get("predicate") {
            Some(name) => match predicates.get(&name) {
                Some(p) => Some((p.clone(), opts.bool("negate", false)?)),
                None => {
                    return Err(Error::config(
                        &opts.key("predicate"),
                        name,
                        "a name listed in `predicates`",
                    ));
                }
            },
            None => {
                opts.refuse("negate", "nothing without `predicate`")?;
                None
            }
        };
        used.extend(opts.into_used());
        steps.push(Step {
            alias: alias.to_owned(),
            transform,
            predicate,
        });
    }
    Ok((Chain { steps }, used))
}

#[cfg(test)]
mod tests;
