//! Verified tokens, remembered: a bounded, sharded map from a token's exact bytes to the
//! [`Principal`] its verification produced.
//!
//! The key is the token itself, compared byte for byte on every hit, so no other token can
//! forge a hit. It is hashed over its length and its last [`HASHED_TAIL`] bytes only, with
//! foldhash under a per-process random seed: the tail of a JWS is its signature, which nobody
//! without the signing key can aim, only verified tokens are ever stored, and the seed is
//! secret, so an attacker cannot flood one bucket either. Hashing 32 bytes instead of a whole
//! token saved about 1,000 instructions per request, and foldhash instead of SipHash about 240
//! more (a collision would only cost a byte comparison, never a false hit).
//!
//! An entry lives until the token's `exp` (without the leeway, so never longer than the token
//! would verify) and only while the key set it was verified with is unchanged (a JWKS refresh
//! that changes the keys moves the key generation and so retires every entry); an entry found
//! dead is removed at once, its room going back to live tokens. Only successful
//! verifications are stored; the revocation check runs on every request, cached or not (see
//! [`super::Authenticator::authenticate`]).
//!
//! A token is remembered from its second successful verification on: the first only leaves its
//! hash in a small table (see `SeenOnce`), so that tokens used once (most of the misses when
//! there are more live tokens than the cache holds) cost no insert and no eviction, and cannot
//! push out the tokens used again and again.
//!
//! Memory is bounded by bytes ([`DEFAULT_CACHE_BYTES`]): each entry weighs what it holds on the
//! heap by the allocator's measure (its token, the principal with its claims, and the map's own
//! slot: see [`super::footprint`]), so that the budget bounds resident memory. When the budget
//! is reached, entries are evicted one by one by quick_cache's policy (a Clock-PRO variant close
//! to S3-FIFO), which keeps the tokens used again and again over those seen once: there is no
//! cliff where a full cache empties itself, and a token used again while held is kept over
//! newcomers, so that tokens used in turn, more of them than the cache holds, still hit in
//! the proportion it holds, where a recency-only cache would hit none. The map is sharded, so worker threads do not serialize on one lock; each
//! eviction is counted (`rampart_token_cache_evictions_total`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Principal;

/// The default byte budget of the verification cache (32 MiB: about 20,000 tokens of 500 bytes
/// with a handful of claims; 27,008 of 284 bytes in the `cache` benchmark).
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// At least what the entry of a 500-byte token with a handful of claims weighs (the token, its
/// principal and claims' text, the map's slot: about 1,600 bytes): a budget of
/// `n * ENTRY_BYTES` holds at least `n` such tokens.
pub const ENTRY_BYTES: u64 = 2_048;
/// The allocator keeps some freed chunks it cannot reuse at once while entries are evicted and
/// inserted: an entry is charged `1 / FRAGMENTATION_DIVISOR` more than it holds. Measured with
/// glibc under a million distinct tokens (the `cache` benchmark): about 1.5%, charged 6%.
const FRAGMENTATION_DIVISOR: u64 = 16;
/// What the map spends on an entry beyond its key and value's heap bytes: its slot (key, value
/// and clock state) in a vector that grows by doubling, so up to twice that; the slots of the
/// ghosts (hashes of evicted keys, half as many as entries) it keeps to recognise a key seen
/// again; and its share of the hash table, at a load of one half.
const SLOT_BYTES: u64 = (3 * (std::mem::size_of::<(Box<[u8]>, Entry)>() + 8) + 2 * 2 * 8) as u64;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    expires_at: u64,
    generation: u64,
    weight: u64,
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

/// The weight of an entry: what it holds in memory, as estimated at insert.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<Box<[u8]>, Entry> for ByBytes {
    fn weight(&self, _token: &Box<[u8]>, entry: &Entry) -> u64 {
        entry.weight
    }
}

/// Counts evictions.
#[derive(Clone, Default)]
struct CountEvictions;

impl quick_cache::Lifecycle<Box<[u8]>, Entry> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut (), _token: Box<[u8]>, _entry: Entry) {
        crate::telemetry::record_token_cache_eviction();
    }
}

/// The sharded map under the cache.
type Entries = quick_cache::sync::Cache<Box<[u8]>, Entry, ByBytes, TailHashing, CountEvictions>;

/// See the [module docs](self).
pub(crate) struct VerificationCache {
    /// Tells this cache's entries in the threads' [`super::recent`] tables from another's.
    id: u64,
    entries: Option<Entries>,
    seen_once: SeenOnce,
    budget: u64,
}

/// Tokens verified once and not remembered yet: a table of tail hashes, one per slot, last
/// writer wins. A token is remembered on its second verification, if its hash is still in its
/// slot (a TinyLFU-style doorkeeper). Tokens used once, which with more live tokens than the
/// cache holds are most misses, then cost no insert, no eviction and no memory, and cannot
/// push out the tokens used again and again; a token used twice costs one more verification.
/// Lock-free: a slot is one relaxed atomic load and store.
struct SeenOnce {
    slots: Box<[AtomicU64]>,
    hashing: TailHashing,
}

impl SeenOnce {
    /// Slots for twice `entries` tokens (a power of two, at least 64).
    fn for_entries(entries: usize) -> Self {
        let slots = entries.saturating_mul(2).next_power_of_two().max(64);
        Self { slots: (0..slots).map(|_| AtomicU64::new(0)).collect(), hashing: TailHashing::default() }
    }

    /// The memory it holds.
    fn bytes(&self) -> u64 {
        (self.slots.len() * std::mem::size_of::<AtomicU64>()) as u64
    }

    /// Whether `token` was verified before (its hash in its slot); records it when not.
    fn seen_before(&self, token: &[u8]) -> bool {
        // 0 marks an empty slot: no hash is 0.
        let hash = self.hashing.hash_one(token) | 1;
        let slot = &self.slots[(hash >> 32) as usize & (self.slots.len() - 1)];
        if slot.load(Ordering::Relaxed) == hash {
            return true;
        }
        slot.store(hash, Ordering::Relaxed);
        false
    }
}

impl std::fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCache").field("budget", &self.budget).field("len", &self.len()).finish()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl VerificationCache {
    /// A cache holding at most `budget` bytes, its entries and its table of tokens seen once
    /// (0 remembers nothing).
    pub(crate) fn with_budget(budget: u64) -> Self {
        let estimated = usize::try_from(budget / ENTRY_BYTES).unwrap_or(usize::MAX).max(16);
        let seen_once = SeenOnce::for_entries(estimated);
        let capacity = budget.saturating_sub(seen_once.bytes());
        // A shard per 256 KiB, up to 64: the budget is split evenly between shards, so a small
        // cache in many shards would hold less than its budget.
        let shards = usize::try_from(budget / (256 * 1024)).unwrap_or(64).clamp(1, 64);
        // Options that do not build (none here: both capacities are set) leave the cache off.
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(estimated)
            .weight_capacity(capacity)
            .shards(shards)
            .build()
            .ok()
            .filter(|_| capacity > 0);
        let entries = options.map(|options| {
            quick_cache::sync::Cache::with_options(options, ByBytes, TailHashing::default(), CountEvictions)
        });
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), entries, seen_once, budget }
    }

    /// The principal of `token` verified before, if it has not expired and its keys are current.
    /// This thread's recent hits answer first ([`super::recent`]); a hit of the shared map is
    /// kept there.
    pub(crate) fn get(&self, token: &[u8], now: u64, generation: u64) -> Option<Principal> {
        if let Some(principal) = super::recent::get(self.id, token, now, generation) {
            return Some(principal);
        }
        let entries = self.entries.as_ref()?;
        let entry = entries.get(token)?;
        if entry.generation != generation || now >= entry.expires_at {
            // Dead weight: its room goes back to the live tokens at once.
            entries.remove_if(token, |entry| entry.generation != generation || now >= entry.expires_at);
            return None;
        }
        super::recent::keep(self.id, token, &entry.principal, entry.expires_at, generation);
        Some(entry.principal)
    }

    /// Remembers a successful verification, from the token's second one on (see [`SeenOnce`]);
    /// tokens without `exp` are never remembered.
    pub(crate) fn insert(&self, token: &[u8], principal: &Principal, now: u64, generation: u64) {
        let (Some(entries), Some(expires_at)) = (&self.entries, principal.expires_at()) else { return };
        if expires_at <= now || !self.seen_once.seen_before(token) {
            return;
        }
        let held = super::footprint::chunk(token.len()) + principal.heap_bytes() + SLOT_BYTES;
        let weight = held + held / FRAGMENTATION_DIVISOR;
        entries.insert(Box::from(token), Entry { principal: principal.clone(), expires_at, generation, weight });
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, quick_cache::sync::Cache::len)
    }

    /// The bytes the entries weigh now (at most the budget).
    pub(crate) fn weight(&self) -> u64 {
        self.entries.as_ref().map_or(0, quick_cache::sync::Cache::weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClaimMapping;

    fn principal(sub: &str, exp: u64) -> Principal {
        Principal::from_claims(serde_json::json!({"sub": sub, "exp": exp}), &ClaimMapping::default()).unwrap()
    }

    /// Two verifications of `token`: what makes the cache remember it.
    fn verified_twice(cache: &VerificationCache, token: &[u8], principal: &Principal, now: u64, generation: u64) {
        cache.insert(token, principal, now, generation);
        cache.insert(token, principal, now, generation);
    }

    #[test]
    fn tokens_sharing_a_tail_are_told_apart_byte_for_byte() {
        let cache = VerificationCache::with_budget(64 * 1024);
        let tail = "x".repeat(HASHED_TAIL + 8);
        let (alice, mallory) = (format!("alice.{tail}"), format!("mallo.{tail}"));
        let (alice, mallory) = (alice.as_bytes(), mallory.as_bytes());
        verified_twice(&cache, alice, &principal("alice", 2_000), 1_000, 0);
        assert_eq!(cache.get(alice, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert!(cache.get(mallory, 1_000, 0).is_none(), "same length and tail, other bytes: a miss");
        verified_twice(&cache, mallory, &principal("mallory", 2_000), 1_000, 0);
        assert_eq!(cache.get(alice, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert_eq!(cache.get(mallory, 1_000, 0).map(|p| p.subject().to_owned()).as_deref(), Some("mallory"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn an_entry_ends_with_its_token_and_its_key_generation() {
        let cache = VerificationCache::with_budget(64 * 1024);
        verified_twice(&cache, b"short", &principal("alice", 2_000), 1_000, 7);
        assert!(cache.get(b"short", 1_999, 7).is_some());
        assert!(cache.get(b"short", 2_000, 7).is_none(), "expired");
        assert!(cache.get(b"short", 1_000, 8).is_none(), "keys rotated");
    }

    #[test]
    fn more_tokens_than_it_holds_evict_one_by_one_and_keep_the_hot_ones() {
        let budget = 256 * 1024;
        let cache = VerificationCache::with_budget(budget);
        let hot = format!("hot.{}", "h".repeat(400));
        verified_twice(&cache, hot.as_bytes(), &principal("hot", 2_000), 1_000, 0);
        let mut held_before = Vec::new();
        for i in 0..5_000 {
            let cold = format!("cold-{i:05}.{}", "c".repeat(400));
            verified_twice(&cache, cold.as_bytes(), &principal("cold", 2_000), 1_000, 0);
            // The hot token is used between every new one, as a busy client's is.
            assert!(cache.get(hot.as_bytes(), 1_000, 0).is_some(), "the hot token was evicted after {i} inserts");
            held_before.push(cache.len());
            assert!(cache.weight() <= budget, "over the budget: {}", cache.weight());
        }
        // Full, and staying full: entries leave one by one, never all at once.
        let full = held_before[1_000];
        assert!(full > 100, "{full} entries in 256 KiB");
        assert!(held_before[1_000..].iter().all(|&n| n + 2 >= full), "the cache emptied itself: {held_before:?}");
    }

    /// Tokens used in turn, each coming back only after all the others, more of them than the
    /// cache holds: the lookups that hit in the last of several rounds. Each miss is inserted once
    /// as a token seen before, so that every one is a candidate (the doorkeeper does not sort
    /// them).
    fn hits_in_a_cycle(cache: &VerificationCache, tokens: usize) -> usize {
        let tokens: Vec<String> = (0..tokens).map(|i| format!("{}.cycle-{i:05}", "c".repeat(400))).collect();
        let mut hits = 0;
        for _round in 0..12 {
            hits = 0;
            for token in &tokens {
                if cache.get(token.as_bytes(), 1_000, 0).is_some() {
                    hits += 1;
                } else {
                    cache.seen_once.seen_before(token.as_bytes());
                    cache.insert(token.as_bytes(), &principal("user", 2_000), 1_000, 0);
                }
            }
        }
        hits
    }

    #[test]
    fn a_cycle_through_more_tokens_than_it_holds_keeps_hitting_the_tokens_it_holds() {
        // The worst order for a recency-only cache (LRU, FIFO): each newly inserted token pushes
        // out one about to come back, and every lookup misses. Here a token used again while
        // held is kept over the newcomers, so what the cache holds keeps being hit.
        let cache = VerificationCache::with_budget(256 * 1024);
        let hits = hits_in_a_cycle(&cache, 2_000);
        let held = cache.len();
        assert!(held > 100, "{held} entries in 256 KiB");
        assert!(hits * 10 >= held * 7, "{hits} hits in a round of 2,000 tokens with {held} held");
    }

    #[test]
    fn dead_entries_are_removed_when_found_and_their_room_goes_to_live_tokens() {
        let cache = VerificationCache::with_budget(256 * 1024);
        hits_in_a_cycle(&cache, 2_000);
        let held = cache.len();
        // The keys rotated: every entry is dead, and each one found is removed.
        let tokens: Vec<String> = (0..2_000).map(|i| format!("{}.cycle-{i:05}", "c".repeat(400))).collect();
        for token in &tokens {
            assert!(cache.get(token.as_bytes(), 1_000, 1).is_none());
        }
        assert_eq!(cache.len(), 0, "{held} dead entries removed");
        for token in tokens.iter().take(100) {
            verified_twice(&cache, token.as_bytes(), &principal("user", 2_000), 1_000, 1);
        }
        assert_eq!(cache.len(), 100);
    }

    #[test]
    fn a_token_is_remembered_from_its_second_verification() {
        let cache = VerificationCache::with_budget(256 * 1024);
        cache.insert(b"once", &principal("alice", 2_000), 1_000, 0);
        assert!(cache.get(b"once", 1_000, 0).is_none(), "one verification: not remembered");
        cache.insert(b"once", &principal("alice", 2_000), 1_000, 0);
        assert!(cache.get(b"once", 1_000, 0).is_some(), "the second: remembered");
    }

    #[test]
    fn a_flood_of_tokens_used_once_evicts_nothing() {
        let cache = VerificationCache::with_budget(256 * 1024);
        let regulars: Vec<String> = (0..20).map(|i| format!("{}.regular-{i:02}", "r".repeat(400))).collect();
        for token in &regulars {
            verified_twice(&cache, token.as_bytes(), &principal("regular", 2_000), 1_000, 0);
        }
        for i in 0..10_000 {
            // A JWS ends with its signature: every valid token's tail differs.
            let once = format!("{}.once-{i:05}", "o".repeat(400));
            cache.insert(once.as_bytes(), &principal("once", 2_000), 1_000, 0);
        }
        assert_eq!(cache.len(), regulars.len(), "only the tokens used twice are held");
        assert!(regulars.iter().all(|t| cache.get(t.as_bytes(), 1_000, 0).is_some()));
    }

    #[test]
    fn a_zero_budget_remembers_nothing() {
        let cache = VerificationCache::with_budget(0);
        verified_twice(&cache, b"token", &principal("alice", 2_000), 1_000, 0);
        assert!(cache.get(b"token", 1_000, 0).is_none());
        assert_eq!(cache.len(), 0);
    }
}
