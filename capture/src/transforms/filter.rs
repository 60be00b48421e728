//! `org.apache.kafka.connect.transforms.Filter`: drops every record it applies to (use it with
//! a predicate).

use super::{ConnectRecord, Transformation};

/// Drops the record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter;

impl Transformation for Filter {
    fn apply(&self, _record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        Ok(None)
    }

    fn reshapes_value(&self) -> bool {
        false
    }
}
