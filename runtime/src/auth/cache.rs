//! Verified tokens, remembered: a bounded map from a token's exact bytes to the [`Principal`] its
//! verification produced.
//!
//! The key is the token itself (compared byte for byte on every hit, hashed with the standard
//! library's randomly keyed SipHash, so an attacker can neither forge a hit nor flood one
//! bucket). An entry lives until the token's `exp` (without the leeway, so never longer than
//! the token would verify) and only while the key set it was verified with is unchanged: every
//! JWKS refresh moves the key generation and so retires every entry. Only successful
//! verifications are stored; the revocation check runs on every request, cached or not (see
//! [`super::Authenticator::authenticate`]). Memory is bounded twice: by entries and by the
//! bytes of the tokens held.

use std::collections::HashMap;
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

#[derive(Default)]
struct Entries {
    map: HashMap<Box<str>, Entry>,
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
    pub(crate) fn get(&self, token: &str, now: u64, generation: u64) -> Option<Principal> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.map.get(token)?;
        (entry.generation == generation && now < entry.expires_at).then(|| entry.principal.clone())
    }

    /// Remembers a successful verification (tokens without `exp` are not remembered).
    pub(crate) fn insert(&self, token: &str, principal: &Principal, now: u64, generation: u64) {
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
