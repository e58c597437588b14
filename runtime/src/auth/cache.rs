//! Verified tokens, remembered: a bounded map from a token's exact bytes to the [`Principal`] its
//! verification produced.
//!
//! The key is the token itself, compared byte for byte on every hit, so no other token can
//! forge a hit. It is hashed over its length and its last [`HASHED_TAIL`] bytes only, with
//! foldhash under a per-process random seed: the tail of a JWS is its signature, which nobody
//! without the signing key can aim, only verified tokens are ever stored, and the seed is
//! secret, so an attacker cannot flood one bucket either. Hashing 32 bytes instead of a whole
//! token saved about 1,000 instructions per request, and foldhash instead of SipHash about 240
//! more (a collision would only cost a byte comparison, never a false hit). An entry lives until the token's `exp` (without the leeway, so never longer than
//! the token would verify) and only while the key set it was verified with is unchanged: every
//! JWKS refresh moves the key generation and so retires every entry. Only successful
//! verifications are stored; the revocation check runs on every request, cached or not (see
//! [`super::Authenticator::authenticate`]). Memory is bounded twice: by entries and by the
//! bytes of the tokens held.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::principal::Principal;

/// The default number of tokens remembered.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
/// The most token bytes held (4 MiB): with the entry bound, what the cache can cost in memory.
const MAX_TOKEN_BYTES_HELD: usize = 4 * 1024 * 1024;

struct Entry {
    principal: Principal,
    expires_at: u64,
    generation: u64,
}

/// How many trailing bytes of a token are hashed.
const HASHED_TAIL: usize = 32;

/// foldhash (randomly seeded) over a string's length and last [`HASHED_TAIL`] bytes.
#[derive(Default, Clone)]
struct TailHashing(foldhash::quality::RandomState);

impl BuildHasher for TailHashing {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(foldhash::quality::FoldHasher<'static>);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0.write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn write_u8(&mut self, byte: u8) {
        self.0.write_u8(byte);
    }

    fn write_usize(&mut self, n: usize) {
        self.0.write_usize(n);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<Box<[u8]>, Entry, TailHashing>,
    token_bytes: usize,
}

/// See the [module docs](self).
pub(crate) struct VerificationCache {
    entries: RwLock<Entries>,
    capacity: usize,
}

impl std::fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl VerificationCache {
    /// A cache of at most `capacity` tokens (0 remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(Entries::default()), capacity }
    }

    /// The principal of `token` verified before, if it has not expired and its keys are current.
    pub(crate) fn get(&self, token: &[u8], now: u64, generation: u64) -> Option<Principal> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.map.get(token)?;
        (entry.generation == generation && now < entry.expires_at).then(|| entry.principal.clone())
    }

    /// Remembers a successful verification (tokens without `exp` are not remembered).
    pub(crate) fn insert(&self, token: &[u8], principal: &Principal, now: u64, generation: u64) {
        let Some(expires_at) = principal.expires_at() else { return };
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        let Ok(mut entries) = self.entries.write() else { return };
        let full = |e: &Entries| e.map.len() >= self.capacity || e.token_bytes + token.len() > MAX_TOKEN_BYTES_HELD;
        if full(&entries) {
            entries.map.retain(|_, e| e.generation == generation && now < e.expires_at);
            entries.token_bytes = entries.map.keys().map(|k| k.len()).sum();
            if full(&entries) {
                // Full of live tokens: start over rather than scan on every insert.
                entries.map.clear();
                entries.token_bytes = 0;
            }
        }
        let entry = Entry { principal: principal.clone(), expires_at, generation };
        if entries.map.insert(Box::from(token), entry).is_none() {
            entries.token_bytes += token.len();
        }
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClaimMapping;

    fn principal(sub: &str, exp: u64) -> Principal {
        Principal::from_claims(serde_json::json!({"sub": sub, "exp": exp}), &ClaimMapping::default()).unwrap()
    }

    #[test]
    fn tokens_sharing_a_tail_are_told_apart_byte_for_byte() {
        let cache = VerificationCache::new(16);
        let tail = "x".repeat(HASHED_TAIL + 8);
        let (alice, mallory) = (format!("alice.{tail}"), format!("mallo.{tail}"));
        let (alice, mallory) = (alice.as_bytes(), mallory.as_bytes());
        cache.insert(alice, &principal("alice", 2_000), 1_000, 0);
        assert_eq!(cache.get(alice, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert!(cache.get(mallory, 1_000, 0).is_none(), "same length and tail, other bytes: a miss");
        cache.insert(mallory, &principal("mallory", 2_000), 1_000, 0);
        assert_eq!(cache.get(alice, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert_eq!(cache.get(mallory, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("mallory"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn an_entry_ends_with_its_token_and_its_key_generation() {
        let cache = VerificationCache::new(16);
        cache.insert(b"short", &principal("alice", 2_000), 1_000, 7);
        assert!(cache.get(b"short", 1_999, 7).is_some());
        assert!(cache.get(b"short", 2_000, 7).is_none(), "expired");
        assert!(cache.get(b"short", 1_000, 8).is_none(), "keys rotated");
    }
}
