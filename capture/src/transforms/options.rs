//! Reading one transform's or predicate's options (`transforms.<alias>.<option>`,
//! `predicates.<name>.<option>`) and remembering which keys were read.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// The options under one prefix.
#[derive(Debug)]
pub struct Options<'a> {
    prefix: String,
    props: &'a BTreeMap<String, String>,
    used: Vec<String>,
}

impl<'a> Options<'a> {
    /// The options under `<prefix>.` (e.g. `transforms.route`).
    pub fn new(prefix: &str, props: &'a BTreeMap<String, String>) -> Self {
        Self {
            prefix: format!("{prefix}."),
            props,
            used: Vec::new(),
        }
    }

    /// The full key of `option`.
    pub fn key(&self, option: &str) -> String {
        format!("{}{option}", self.prefix)
    }

    /// The option's value, trimmed, when set and not empty.
    pub fn get(&mut self, option: &str) -> Option<String> {
        let key = self.key(option);
        let value = self.props.get(&key)?.trim().to_owned();
        self.used.push(key);
        (!value.is_empty()).then_some(value)
    }

    /// The option's value, or `default`.
    pub fn get_or(&mut self, option: &str, default: &str) -> String {
        self.get(option).unwrap_or_else(|| default.to_owned())
    }

    /// The option's value; a missing one is an error naming its key.
    pub fn required(&mut self, option: &str, hint: &str) -> Result<String> {
        self.get(option).ok_or_else(|| Error::MissingKey {
            key: self.key(option),
            hint: hint.to_owned(),
        })
    }

    /// A `true`/`false` option.
    pub fn bool(&mut self, option: &str, default: bool) -> Result<bool> {
        match self.get(option).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(Error::config(&self.key(option), other, "true or false")),
        }
    }

    /// A comma-separated list option (empty entries dropped).
    pub fn list(&mut self, option: &str) -> Vec<String> {
        self.get(option)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Refuses `option` when it is set, naming the reason.
    pub fn refuse(&mut self, option: &str, why: &str) -> Result<()> {
        match self.get(option) {
            Some(v) => Err(Error::config(&self.key(option), v, why)),
            None => Ok(()),
        }
    }

    /// The keys read.
    pub fn into_used(self) -> Vec<String> {
        self.used
    }
}
