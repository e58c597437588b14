//! Verified tokens, remembered: a bounded map from the SHA-256 of a token's exact bytes to the
//! [`Principal`] its verification produced.
//!
//! An entry lives until the token's `exp` (without the leeway, so never longer than the token
//! would verify) and only while the key set it was verified with is unchanged: every JWKS
//! refresh moves the key generation and so retires every entry. Only successful verifications
//! are stored; the revocation check runs on every request, cached or not (see
//! [`super::Authenticator::authenticate`]).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use super::principal::Principal;

/// The default number of tokens remembered.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// The key of an entry: SHA-256 of the token's bytes.
pub(crate) type TokenDigest = [u8; 32];

struct Entry {
    principal: Principal,
    expires_at: u64,
    generation: u64,
}

/// See the [module docs](self).
pub(crate) struct VerificationCache {
    entries: RwLock<HashMap<TokenDigest, Entry>>,
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

pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

impl VerificationCache {
    /// A cache of at most `capacity` tokens (0 remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), capacity }
    }

    /// The principal of a token verified before, if it has not expired and its keys are current.
    pub(crate) fn get(&self, digest: &TokenDigest, now: u64, generation: u64) -> Option<Principal> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.get(digest)?;
        (entry.generation == generation && now < entry.expires_at).then(|| entry.principal.clone())
    }

    /// Remembers a successful verification (tokens without `exp` are not remembered).
    pub(crate) fn insert(&self, digest: TokenDigest, principal: &Principal, now: u64, generation: u64) {
        let Some(expires_at) = principal.expires_at() else { return };
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        let Ok(mut entries) = self.entries.write() else { return };
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.generation == generation && now < e.expires_at);
            if entries.len() >= self.capacity {
                // Full of live tokens: start over rather than scan on every insert.
                entries.clear();
            }
        }
        entries.insert(digest, Entry { principal: principal.clone(), expires_at, generation });
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }
}
