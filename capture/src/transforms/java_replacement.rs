//! Replacement strings as Java's `Matcher.appendReplacement` reads them: `$n` and `${name}`
//! group references, `\` escaping the next character.

use regex::{Captures, Regex};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Group(usize),
    Named(String),
}

/// A parsed replacement, checked against the pattern's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement(Vec<Part>);

impl Replacement {
    /// Parses `text` for `regex`. A reference to a group the pattern lacks is an error, as it
    /// is in Java (there at the first match).
    pub(crate) fn parse(text: &str, regex: &Regex) -> Result<Self, String> {
        let groups = regex.captures_len().saturating_sub(1);
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => lit.push(n),
                    None => return Err("a trailing `\\` escapes nothing".into()),
                },
                '$' => {
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    if chars.peek() == Some(&'{') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        if regex.capture_names().flatten().all(|n| n != name) {
                            return Err(format!("no group named `{name}`"));
                        }
                        parts.push(Part::Named(name));
                        continue;
                    }
                    let Some(first) = chars.peek().and_then(|c| c.to_digit(10)) else {
                        return Err("`$` must be followed by a group number or `{name}`".into());
                    };
                    chars.next();
                    let mut n = first as usize;
                    // Java takes further digits while the number stays a group of the pattern.
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let next = n * 10 + d as usize;
                        if next > groups {
                            break;
                        }
                        n = next;
                        chars.next();
                    }
                    if n > groups {
                        return Err(format!("no group {n} (the pattern has {groups})"));
                    }
                    parts.push(Part::Group(n));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self(parts))
    }

    /// The replacement for one match; an unmatched group adds nothing.
    pub(crate) fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
                Part::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, replacement: &str, input: &str) -> Result<String, String> {
        let re = Regex::new(pattern).unwrap();
        let r = Replacement::parse(replacement, &re)?;
        Ok(r.expand(&re.captures(input).unwrap()))
    }

    #[test]
    fn group_references_as_java_reads_them() {
        assert_eq!(run("(a)(b)", "$2-$1", "ab").unwrap(), "b-a");
        // `$10` with two groups is group 1 followed by `0`.
        assert_eq!(run("(a)(b)", "$10", "ab").unwrap(), "a0");
        assert_eq!(run("(?<x>a)b", "${x}!", "ab").unwrap(), "a!");
        assert_eq!(run("(a)", r"\$1", "a").unwrap(), "$1");
        assert!(run("(a)", "$2", "a").unwrap_err().contains("no group 2"));
        assert!(run("(a)", "${y}", "a").is_err());
        assert!(run("(a)", "$x", "a").is_err());
    }
}
