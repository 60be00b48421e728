//! The Lua version guard: one call per change, run atomically by Redis.

use redis::Script;

/// `KEYS[1]` the document, `KEYS[2]` its version key; `ARGV[1]` the operation (`json`, `hash` or
/// `del`), `ARGV[2]` the new version, `ARGV[3]` the TTL in ms (0: none), `ARGV[4]` the tombstone
/// TTL in ms, then the JSON string or the hash's field/value pairs. Returns 1 when written, 0
/// when the stored version is the same or newer.
const SOURCE: &str = r"
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local new = tonumber(ARGV[2])
if current >= new then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
if ARGV[1] == 'del' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  return 1
end
if ARGV[1] == 'json' then
  redis.call('SET', KEYS[1], ARGV[5])
elseif #ARGV >= 6 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5))
end
redis.call('SET', KEYS[2], ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
";

/// The guard script (its SHA1 is what the pipeline calls).
pub(crate) fn guard() -> Script {
    Script::new(SOURCE)
}

/// What one call writes.
pub(crate) enum Write<'a> {
    /// A JSON string.
    Json(String),
    /// Hash fields.
    Hash(&'a [(String, String)]),
    /// A delete.
    Delete,
}

/// Appends the `EVALSHA` of one change to `pipe`.
pub(crate) fn add_call(
    pipe: &mut redis::Pipeline,
    sha: &str,
    keys: [&str; 2],
    version: u64,
    ttl_ms: u64,
    tombstone_ttl_ms: u64,
    write: &Write<'_>,
) {
    let op = match write {
        Write::Json(_) => "json",
        Write::Hash(_) => "hash",
        Write::Delete => "del",
    };
    let cmd = pipe
        .cmd("EVALSHA")
        .arg(sha)
        .arg(2)
        .arg(keys[0])
        .arg(keys[1])
        .arg(op)
        .arg(version)
        .arg(ttl_ms)
        .arg(tombstone_ttl_ms);
    match write {
        Write::Json(text) => {
            cmd.arg(text);
        }
        Write::Hash(fields) => {
            for (field, value) in *fields {
                cmd.arg(field).arg(value);
            }
        }
        Write::Delete => {}
    }
}
