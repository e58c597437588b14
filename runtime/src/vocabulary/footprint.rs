//! What a value holds on the heap, as the allocator sees it: the verification cache charges
//! each entry this, so that its byte budget bounds resident memory and not only the bytes asked
//! for.
//!
//! An estimate, never below the truth for glibc's malloc (the allocator of the machines the
//! benchmarks run on): every allocation is a chunk of its size plus an 8-byte header, rounded
//! up to 16 bytes and never under 32.
//!
//! Checked by `cargo run -p bench --release --bin cache`: 1,000,000 distinct tokens through
//! the default budget, resident growth against the budget (BENCHMARKS.md).

use std::mem::size_of;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_is_its_size_and_header_rounded_to_sixteen_and_at_least_thirty_two() {
        assert_eq!([chunk(0), chunk(1), chunk(24), chunk(25), chunk(40), chunk(1000)], [0, 32, 32, 48, 48, 1008]);
    }
}
