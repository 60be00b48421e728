//! Key generations: where a rebuild writes a new model while readers keep the old one, and the
//! pointer that switches them atomically.
//!
//! A model built with generations keeps `<prefix>~generation` = `g<millis>` and its documents
//! under `<prefix>~g<millis>:<key>` (versions under `<prefix>~g<millis>:~version:<key>`).

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::sink::classify;
use crate::{Error, Result};

/// Compare-and-set of the pointer: `KEYS[1]` the pointer, `ARGV[1]` the generation expected
/// there, `ARGV[2]` the new one. Returns 1 when switched, 0 when another generation is current.
const SWITCH: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
";

/// Keys deleted per `UNLINK` (and asked for per `SCAN`) when a generation is dropped.
const DROP_BATCH: usize = 1000;

/// A fresh generation's name, `g<milliseconds since the epoch>`, never equal to `current`.
pub(crate) fn next_name(current: Option<&str>) -> String {
    let millis = chrono::Utc::now().timestamp_millis();
    let name = format!("g{millis}");
    if current == Some(name.as_str()) {
        return format!("g{}", millis + 1);
    }
    name
}

/// The generation the pointer names, `None` when there is no pointer.
pub(crate) async fn current(conn: &ConnectionManager, pointer: &str) -> Result<Option<String>> {
    let mut conn = conn.clone();
    conn.get(pointer).await.map_err(classify)
}

/// Sets the pointer to a first generation unless one is set; returns the current generation.
pub(crate) async fn ensure(conn: &ConnectionManager, pointer: &str) -> Result<String> {
    let mut c = conn.clone();
    let _: bool = c.set_nx(pointer, next_name(None)).await.map_err(classify)?;
    current(conn, pointer).await?.ok_or_else(|| Error::Refused {
        sink: "redis",
        reason: format!("generation pointer `{pointer}` vanished right after it was set"),
    })
}

/// Points `pointer` from `old` to `new` in one atomic step; refuses when `old` is not current
/// any more (another rebuild switched first).
pub(crate) async fn switch(
    conn: &ConnectionManager,
    pointer: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    let mut c = conn.clone();
    let switched: i64 = Script::new(SWITCH)
        .key(pointer)
        .arg(old)
        .arg(new)
        .invoke_async(&mut c)
        .await
        .map_err(classify)?;
    if switched != 1 {
        return Err(Error::Refused {
            sink: "redis",
            reason: format!(
                "generation pointer `{pointer}` no longer names `{old}`: another rebuild switched it"
            ),
        });
    }
    Ok(())
}

/// Deletes every key starting with `prefix` (`SCAN` + `UNLINK` in batches); returns how many.
pub(crate) async fn drop_keys(conn: &ConnectionManager, prefix: &str) -> Result<usize> {
    let mut c = conn.clone();
    let pattern = format!("{}*", escape_glob(prefix));
    let mut cursor: u64 = 0;
    let mut dropped = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(DROP_BATCH)
            .query_async(&mut c)
            .await
            .map_err(classify)?;
        if !keys.is_empty() {
            let unlinked: usize = c.unlink(&keys).await.map_err(classify)?;
            dropped += unlinked;
        }
        if next == 0 {
            return Ok(dropped);
        }
        cursor = next;
    }
}

/// `text` with the glob characters of `SCAN MATCH` escaped, so it matches only itself.
pub(crate) fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("orders:~g1:"), "orders:~g1:");
        assert_eq!(escape_glob(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }

    #[test]
    fn a_next_generation_differs_from_the_current_one() {
        let now = next_name(None);
        assert!(now.starts_with('g'), "{now}");
        assert_ne!(next_name(Some(&now)), now);
    }
}
