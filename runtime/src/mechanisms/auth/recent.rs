//! This thread's most recent verification-cache hits, in front of the shared cache: a hit here
//! writes nothing another thread reads, so worker threads checking tokens at once do not pass
//! the cache's lock words between their cores.
//!
//! A small direct-mapped table per thread ([`SLOTS`] entries), filled from the shared cache's
//! hits only: a token reaches it after it was remembered there (from its second verification),
//! so tokens used once never do. An entry is used under the same conditions as the shared
//! cache's: the exact token bytes, the same cache, the same key generation, before `exp`. The
//! revocation check runs on every request whatever answered (see
//! [`super::Authenticator::authenticate`]).
//!
//! Memory outside the cache's byte budget: at most [`SLOTS`] entries per thread that checks
//! tokens (a copy of the token and a reference to a principal the shared cache may since have
//! evicted), about 600 KiB per worker thread at most with 2 KiB entries.

use std::cell::RefCell;

use super::Principal;

/// Entries per thread.
const SLOTS: usize = 256;

struct Slot {
    cache: u64,
    token: Box<[u8]>,
    principal: Principal,
    expires_at: u64,
    generation: u64,
}

thread_local! {
    static RECENT: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// The slot of `token`: from its length and last 8 bytes, the end of its signature (only
/// verified tokens are stored; one that takes another's slot only sends that one back to the
/// shared cache).
fn slot_of(token: &[u8]) -> usize {
    let tail = token.len().saturating_sub(8);
    let mut last = [0u8; 8];
    last[..token.len() - tail].copy_from_slice(&token[tail..]);
    let mixed = (u64::from_le_bytes(last) ^ token.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 56) as usize % SLOTS
}

/// The principal this thread found for `token` in cache `cache` lately, if still valid.
pub(crate) fn get(cache: u64, token: &[u8], now: u64, generation: u64) -> Option<Principal> {
    RECENT.with_borrow(|slots| {
        let slot = slots[slot_of(token)].as_ref()?;
        let valid =
            slot.cache == cache && slot.generation == generation && now < slot.expires_at && *slot.token == *token;
        valid.then(|| slot.principal.clone())
    })
}

/// Keeps a hit of the shared cache `cache` for this thread's next requests.
pub(crate) fn keep(cache: u64, token: &[u8], principal: &Principal, expires_at: u64, generation: u64) {
    RECENT.with_borrow_mut(|slots| match &mut slots[slot_of(token)] {
        // Tokens of one issuer are mostly of one length: the slot's buffer is reused.
        Some(slot) if slot.token.len() == token.len() => {
            slot.token.copy_from_slice(token);
            (slot.cache, slot.expires_at, slot.generation) = (cache, expires_at, generation);
            slot.principal = principal.clone();
        }
        slot => {
            *slot = Some(Slot { cache, token: Box::from(token), principal: principal.clone(), expires_at, generation });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClaimMapping;

    fn principal(sub: &str) -> Principal {
        Principal::from_claims(serde_json::json!({"sub": sub, "exp": 2_000}), &ClaimMapping::default()).unwrap()
    }

    #[test]
    fn an_entry_answers_only_its_cache_its_bytes_its_keys_and_before_exp() {
        let token = b"header.payload.signature-of-alice";
        keep(7, token, &principal("alice"), 2_000, 3);
        assert_eq!(get(7, token, 1_999, 3).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert!(get(8, token, 1_999, 3).is_none(), "another verifier's cache");
        assert!(get(7, token, 1_999, 4).is_none(), "keys changed");
        assert!(get(7, token, 2_000, 3).is_none(), "expired");
        // Same length and last bytes (so the same slot), another token.
        assert!(get(7, b"HEADER.payload.signature-of-alice", 1_999, 3).is_none());
    }

    #[test]
    fn another_threads_entries_are_not_seen() {
        keep(9, b"thread-local.token", &principal("alice"), 2_000, 0);
        let elsewhere = std::thread::spawn(|| get(9, b"thread-local.token", 1_000, 0).is_some());
        assert!(!elsewhere.join().unwrap());
        assert!(get(9, b"thread-local.token", 1_000, 0).is_some());
    }

    #[test]
    fn short_tokens_have_a_slot_too() {
        keep(10, b"abc", &principal("bob"), 2_000, 0);
        assert!(get(10, b"abc", 1_000, 0).is_some());
    }
}
