//! `org.apache.kafka.connect.transforms.RegexRouter`: a topic that matches `regex` as a whole
//! becomes `replacement` (Java-style `$1` group references); others keep their topic.

use regex::Regex;

use super::java_replacement::Replacement;
use super::predicates::whole_match;
use super::{ConnectRecord, Options, Transformation};
use crate::{Error, Result};

/// Renames topics.
#[derive(Debug, Clone)]
pub struct RegexRouter {
    regex: Regex,
    replacement: Replacement,
}

impl RegexRouter {
    /// From `regex` and `replacement`.
    pub fn from_options(opts: &mut Options<'_>) -> Result<Self> {
        let pattern = opts.required("regex", "a regular expression matching whole topic names")?;
        let regex = whole_match(&opts.key("regex"), &pattern)?;
        let text = opts.required("replacement", "the new topic name, e.g. `$1-cdc`")?;
        let replacement = Replacement::parse(&text, &regex)
            .map_err(|why| Error::config(&opts.key("replacement"), text.clone(), why))?;
        Ok(Self { regex, replacement })
    }

    /// The new topic name, if `topic` matches.
    pub fn route(&self, topic: &str) -> Option<String> {
        self.regex
            .captures(topic)
            .map(|caps| self.replacement.expand(&caps))
    }
}

impl Transformation for RegexRouter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        if let Some(topic) = self.route(&record.topic) {
            record.topic = topic;
        }
        Ok(Some(record))
    }

    fn reshapes_value(&self) -> bool {
        false
    }
}
