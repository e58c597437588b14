//! What a value holds on the heap, as the allocator sees it: the verification cache charges
//! each entry this, so that its byte budget bounds resident memory and not only the bytes asked
//! for.
//!
//! An estimate, never below the truth for glibc's malloc (the allocator of the machines the
//! benchmarks run on): every allocation is a chunk of its size plus an 8-byte header, rounded
//! up to 16 bytes and never under 32. A JSON object is a B-tree whose nodes hold up to 11
//! members and, but for the root, at least 5, so it is charged one node per 5 members.
//!
//! Checked by `cargo run -p bench --release --bin cache`: 1,000,000 distinct tokens through
//! the default budget, resident growth against the budget (BENCHMARKS.md).

use std::mem::size_of;

use serde_json::{Map, Value};

/// The bytes a heap allocation of `size` bytes takes (0 for no allocation).
pub(crate) const fn chunk(size: usize) -> u64 {
    if size == 0 {
        return 0;
    }
    let rounded = (size + 8).div_ceil(16) * 16;
    (if rounded < 32 { 32 } else { rounded }) as u64
}

/// A `String`'s heap bytes (its capacity, which may exceed its length).
pub(crate) fn string(text: &String) -> u64 {
    chunk(text.capacity())
}

/// A vector of strings: the buffer (its capacity) and each string.
pub(crate) fn strings(items: &Vec<String>) -> u64 {
    chunk(items.capacity() * size_of::<String>()) + items.iter().map(string).sum::<u64>()
}

/// The members a B-tree node holds at most (std's `B` is 6: `2 * B - 1`).
const NODE_CAPACITY: usize = 11;
/// The members a node other than the root holds at least (`B - 1`).
const NODE_MINIMUM: usize = 5;
/// An internal node of a `Map<String, Value>`: the members, the parent pointer, the index and
/// length, and the child pointers.
const INTERNAL_NODE: usize =
    NODE_CAPACITY * (size_of::<String>() + size_of::<Value>()) + 16 + (NODE_CAPACITY + 1) * size_of::<usize>();
/// A leaf node: no child pointers.
const LEAF_NODE: usize = NODE_CAPACITY * (size_of::<String>() + size_of::<Value>()) + 16;

/// A JSON object's heap bytes: its nodes, keys and values.
pub(crate) fn object(map: &Map<String, Value>) -> u64 {
    let nodes = match map.len() {
        0 => 0,
        len if len <= NODE_CAPACITY => chunk(LEAF_NODE),
        len => (len.div_ceil(NODE_MINIMUM) as u64) * chunk(INTERNAL_NODE),
    };
    nodes + map.iter().map(|(key, value)| string(key) + json(value)).sum::<u64>()
}

/// A JSON value's heap bytes (what it holds beyond its own inline size).
pub(crate) fn json(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(text) => string(text),
        Value::Array(items) => chunk(items.capacity() * size_of::<Value>()) + items.iter().map(json).sum::<u64>(),
        Value::Object(map) => object(map),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_is_its_size_and_header_rounded_to_sixteen_and_at_least_thirty_two() {
        assert_eq!([chunk(0), chunk(1), chunk(24), chunk(25), chunk(40), chunk(1000)], [0, 32, 32, 48, 48, 1008]);
    }

    #[test]
    fn an_object_is_charged_its_nodes_keys_and_values() {
        let small = serde_json::json!({"sub": "alice", "exp": 1});
        let Value::Object(small) = small else { unreachable!() };
        // One leaf node, two keys of 3 bytes, one value string of 5 bytes.
        assert_eq!(object(&small), chunk(LEAF_NODE) + 3 * 32);
        let large: Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), Value::from(i))).collect();
        assert_eq!(object(&large), 20 * chunk(INTERNAL_NODE) + 100 * 32);
    }
}
