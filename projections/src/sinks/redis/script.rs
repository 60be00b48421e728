//! The Lua version guard: one call writes a chunk of changes, each only when its stored version
//! is older, atomically for the chunk.

use redis::Script;

/// Most changes one script call writes: a chunk blocks Redis for its run (a few ms), so a large
/// batch is sent as several calls in one pipeline.
pub(crate) const CHUNK: usize = 500;

/// `KEYS` are pairs: a document, then its version key. `ARGV[1]` is the TTL in ms (0: none),
/// `ARGV[2]` the tombstone TTL in ms, then per pair: the operation (`json`, `hash` or `del`),
/// the new version, the count `n` of values that follow, and those values (the JSON string, or
/// the hash's field/value pairs). Returns one 1 (written) or 0 (the stored version is the same
/// or newer) per pair.
///
/// Redis runs a script on its one thread, and each `redis.call` costs about what a command sent
/// by a client does, so the script makes few: one `MGET` reads every version of the chunk, and
/// the plain writes (a JSON document and its version without a TTL, a hash's version) wait in a
/// list that one `MSET` writes. A write that must be its own command (a delete, a hash's fields,
/// anything with a TTL: `SET … PX`) first sends that list, so every change lands in the order
/// given; a key given twice is checked against the version written before it in the chunk.
const SOURCE: &str = r"
local ttl = tonumber(ARGV[1])
local tombstone = ARGV[2]
local version_keys = {}
for k = 2, #KEYS, 2 do
  version_keys[#version_keys + 1] = KEYS[k]
end
local stored = redis.call('MGET', unpack(version_keys))
local written = {}
local plain = {}
local function flush()
  if #plain > 0 then
    redis.call('MSET', unpack(plain))
    plain = {}
  end
end
local function keep(key, value)
  plain[#plain + 1] = key
  plain[#plain + 1] = value
end
local at = 3
local out = {}
for i = 1, #KEYS / 2 do
  local doc, version_key = KEYS[2 * i - 1], KEYS[2 * i]
  local op, version, n = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local first = at + 3
  at = first + n
  local current = tonumber(written[version_key] or stored[i] or '0')
  if current >= tonumber(version) then
    out[i] = 0
  else
    written[version_key] = version
    if op == 'del' then
      flush()
      redis.call('DEL', doc)
      redis.call('SET', version_key, version, 'PX', tombstone)
    elseif op == 'json' and ttl == 0 then
      keep(doc, ARGV[first])
      keep(version_key, version)
    elseif op == 'json' then
      flush()
      redis.call('SET', doc, ARGV[first], 'PX', ttl)
      redis.call('SET', version_key, version, 'PX', ttl)
    else
      flush()
      redis.call('DEL', doc)
      if n > 0 then
        redis.call('HSET', doc, unpack(ARGV, first, first + n - 1))
      end
      if ttl > 0 then
        redis.call('PEXPIRE', doc, ttl)
        redis.call('SET', version_key, version, 'PX', ttl)
      else
        keep(version_key, version)
      end
    end
    out[i] = 1
  end
end
flush()
return out
";

/// The guard script (its SHA1 is what the pipeline calls).
pub(crate) fn guard() -> Script {
    Script::new(SOURCE)
}

/// What one change writes.
pub(crate) enum Write<'a> {
    /// A JSON string.
    Json(String),
    /// Hash fields.
    Hash(&'a [(String, String)]),
    /// A delete.
    Delete,
}

/// One script call under construction: the keys and the per-change arguments.
pub(crate) struct Call {
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl Call {
    /// An empty call with these TTLs.
    pub(crate) fn new(ttl_ms: u64, tombstone_ttl_ms: u64) -> Self {
        Self {
            keys: Vec::new(),
            args: vec![
                ttl_ms.to_string().into_bytes(),
                tombstone_ttl_ms.to_string().into_bytes(),
            ],
        }
    }

    /// How many changes it holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len() / 2
    }

    /// Adds one change: the document key, its version key, the version and what to write.
    pub(crate) fn add(&mut self, keys: [String; 2], version: u64, write: Write<'_>) {
        let [doc, version_key] = keys;
        self.keys.push(doc);
        self.keys.push(version_key);
        let (op, values): (&str, Vec<Vec<u8>>) = match write {
            Write::Json(text) => ("json", vec![text.into_bytes()]),
            Write::Hash(fields) => (
                "hash",
                fields
                    .iter()
                    .flat_map(|(f, v)| [f.clone().into_bytes(), v.clone().into_bytes()])
                    .collect(),
            ),
            Write::Delete => ("del", Vec::new()),
        };
        self.args.push(op.as_bytes().to_vec());
        self.args.push(version.to_string().into_bytes());
        self.args.push(values.len().to_string().into_bytes());
        self.args.extend(values);
    }

    /// Appends the `EVALSHA` of this call to `pipe`.
    pub(crate) fn add_to(&self, pipe: &mut redis::Pipeline, sha: &str) {
        let cmd = pipe.cmd("EVALSHA").arg(sha).arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key);
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_holds_key_pairs_and_counted_values() {
        let mut call = Call::new(0, 1000);
        call.add(
            ["d:a".into(), "d:~version:a".into()],
            3,
            Write::Json("{}".into()),
        );
        let fields = [("s".to_owned(), "x".to_owned())];
        call.add(
            ["d:b".into(), "d:~version:b".into()],
            4,
            Write::Hash(&fields),
        );
        call.add(["d:c".into(), "d:~version:c".into()], 5, Write::Delete);
        assert_eq!(call.len(), 3);
        let args: Vec<String> = call
            .args
            .iter()
            .map(|a| String::from_utf8(a.clone()).unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "0", "1000", "json", "3", "1", "{}", "hash", "4", "2", "s", "x", "del", "5", "0"
            ]
        );
    }
}
