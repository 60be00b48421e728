//! The iteration order of a `java.util.HashMap<String, _>`, which Debezium's END records follow
//! for `data_collections` (its `TransactionContext` counts events per table in a HashMap).

/// `String.hashCode()`: over UTF-16 code units, `h = 31 * h + unit`, wrapping.
fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `HashMap.hash()`: the hash with its high half folded into the low half.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// The table capacity of a default `HashMap` (16, load factor 0.75) after `n` insertions.
fn capacity(n: usize) -> usize {
    let mut cap = 16;
    while n > cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// `items` (in insertion order, keyed by `key`) in the order a `HashMap` holding them iterates:
/// by bucket, and in insertion order within a bucket (a resize keeps that order).
pub fn hash_map_order<T>(mut items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    let mask = (capacity(items.len()) - 1) as u32;
    // A stable sort: equal buckets keep insertion order.
    items.sort_by_key(|item| spread(string_hash(key(item))) & mask);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_is_javas() {
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash("keel_cap_dbz_txn_3f2b080f.a"), -123_983_209);
        assert_eq!(string_hash(""), 0);
        // A character outside the BMP counts as its two UTF-16 units.
        assert_eq!(string_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn order_is_by_bucket_then_insertion() {
        // "a" and "q" share bucket 1, "b" is in bucket 2.
        let order = hash_map_order(vec!["q", "b", "a"], |s| s);
        assert_eq!(order, ["q", "a", "b"]);
        // Seen from Debezium 3.4: table b's count before table a's.
        let order = hash_map_order(
            vec!["keel_cap_dbz_txn_3f2b080f.a", "keel_cap_dbz_txn_3f2b080f.b"],
            |s| s,
        );
        assert_eq!(order[0], "keel_cap_dbz_txn_3f2b080f.b");
    }

    #[test]
    fn the_table_grows_past_twelve_entries() {
        assert_eq!(capacity(12), 16);
        assert_eq!(capacity(13), 32);
        assert_eq!(capacity(25), 64);
    }
}
