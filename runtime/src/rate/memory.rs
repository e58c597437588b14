//! The in-memory backend: one governor keyed limiter (GCRA) per route, keys hashed.
//!
//! Keys are 64-bit SipHash values of the client key under a per-process random seed, so a check
//! allocates nothing and a key costs the same few bytes whatever its length; collisions can't be
//! aimed at by a client who does not know the seed. Memory stays bounded: [`MemoryStore::cleanup`]
//! (run periodically by [`super::RateLimiter::spawn_cleanup`]) drops keys that have recovered their
//! full quota and shrinks the tables, and a ceiling on tracked keys per route refuses new keys
//! (429) rather than grow without bound.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

use super::{Checked, QuotaKey, RateDecision};
use crate::endpoint::RateSpec;

type KeyedLimiter = RateLimiter<u64, BoundedStore, DefaultClock, StateInformationMiddleware>;
type Routes = HashMap<(&'static str, &'static str), Arc<KeyedLimiter>, rustc_hash::FxBuildHasher>;

/// A TAT so far ahead that the GCRA refuses: what a key beyond the ceiling is given, untracked.
const REFUSED_TAT: u64 = u64::MAX / 4;

/// governor's DashMap store with a ceiling: at `max` keys, a key it does not already track is
/// refused without being inserted, while tracked keys keep their quotas.
///
/// The keys are already SipHash values under a secret seed, which no client can aim: the map
/// spreads them with one multiplication (FxHash) instead of hashing them again.
struct BoundedStore {
    keys: DashMapStateStore<u64, rustc_hash::FxBuildHasher>,
    max: usize,
    /// The number of keys when last counted: counting takes a lock on every shard of the map,
    /// so it is done once every [`RECOUNT_EVERY`] checks, and exactly only near the ceiling.
    counted: AtomicUsize,
    /// Checks counted in stripes, each on its own cache line, a thread to a stripe: worker
    /// threads checking at once do not write one shared counter.
    checks: [CachePadded<AtomicUsize>; STRIPES],
}

/// How many checks may pass between two counts of the keys (so as many new keys at most): each
/// stripe recounts every `RECOUNT_EVERY / STRIPES` of its checks, so after any count, fewer
/// than `RECOUNT_EVERY` checks happen in all before the next.
const RECOUNT_EVERY: usize = 1024;
const STRIPES: usize = 16;

thread_local! {
    /// This thread's stripe of the check counters.
    static STRIPE: Cell<usize> = Cell::new(next_stripe());
}

fn next_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
}

impl BoundedStore {
    fn new(max: usize) -> Self {
        let checks = std::array::from_fn(|_| CachePadded::new(AtomicUsize::new(0)));
        Self { keys: DashMapStateStore::default(), max, counted: AtomicUsize::new(0), checks }
    }

    /// Whether `key` must be refused: new, and the ceiling reached.
    fn refuses(&self, key: &u64) -> bool {
        let mut counted = self.counted.load(Ordering::Relaxed);
        let stripe = &self.checks[STRIPE.with(Cell::get)];
        if stripe.fetch_add(1, Ordering::Relaxed).is_multiple_of(RECOUNT_EVERY / STRIPES) {
            counted = self.keys.len();
            self.counted.store(counted, Ordering::Relaxed);
        }
        // Far from the ceiling, even the keys added since the last count cannot reach it.
        counted + RECOUNT_EVERY >= self.max && !self.keys.contains_key(key) && self.keys.len() >= self.max
    }
}

impl StateStore for BoundedStore {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if self.refuses(key) {
            return f(Some(Nanos::from(REFUSED_TAT))).map(|(outcome, _)| outcome);
        }
        self.keys.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<u64> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.keys.retain_recent(drop_below);
        self.counted.store(self.keys.len(), Ordering::Relaxed);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.keys);
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Waits this long only come from [`REFUSED_TAT`] (no declared rate is slower than a day per
/// request times its burst).
const REFUSED_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The default ceiling on keys tracked per route.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;

/// Per-route in-memory limiters.
pub struct MemoryStore {
    /// Keyed by the route's method and template, which the code declares (no client chooses
    /// them): a fast unkeyed hash is enough. Read without a lock (a route's limiter is added
    /// once, by copying the map), so that worker threads share no lock word.
    routes: ArcSwap<Routes>,
    hasher: RandomState,
    clock: DefaultClock,
    max_keys: usize,
    started: std::time::Instant,
    last_sweep_ms: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_max_keys(DEFAULT_MAX_KEYS)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").field("max_keys", &self.max_keys).field("keys", &self.len()).finish()
    }
}

pub(crate) fn quota(spec: &RateSpec) -> Quota {
    let count = NonZeroU32::new(spec.count).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(spec.burst).unwrap_or(count);
    let per_request = Duration::from_secs(spec.period_secs) / count.get();
    Quota::with_period(per_request.max(Duration::from_nanos(1))).unwrap_or(Quota::per_second(count)).allow_burst(burst)
}

impl MemoryStore {
    /// A store tracking at most `max_keys` keys per route.
    pub fn with_max_keys(max_keys: usize) -> Self {
        Self {
            routes: ArcSwap::from_pointee(HashMap::default()),
            hasher: RandomState::new(),
            clock: DefaultClock::default(),
            max_keys: max_keys.max(1),
            started: std::time::Instant::now(),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    /// Runs `check` on the limiter of `route`, created on first use.
    fn with_limiter<T>(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        check: impl FnOnce(&KeyedLimiter) -> T,
    ) -> T {
        if let Some(limiter) = self.routes.load().get(&route) {
            return check(limiter);
        }
        let new_limiter = || {
            let store = BoundedStore::new(self.max_keys);
            Arc::new(RateLimiter::new(quota(spec), store, DefaultClock::default()))
        };
        // Copy-on-write; a route added by another thread meanwhile is kept, not replaced.
        let routes = self.routes.rcu(|routes| {
            let mut routes = Routes::clone(routes);
            routes.entry(route).or_insert_with(new_limiter);
            routes
        });
        // `rcu` returns the map it replaced; the route's limiter is in the current one.
        drop(routes);
        let limiter = self.routes.load().get(&route).cloned().unwrap_or_else(new_limiter);
        check(&limiter)
    }

    /// Takes one request from `key`'s quota on `route` (method, path).
    pub fn check(&self, route: (&'static str, &'static str), spec: &RateSpec, key: &str) -> Checked {
        self.check_key(route, spec, &QuotaKey::text(key))
    }

    /// [`MemoryStore::check`] for a key given in parts (hashed without being joined).
    pub(crate) fn check_key(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        key: &QuotaKey<'_>,
    ) -> Checked {
        let mut hasher = self.hasher.build_hasher();
        key.hash_into(&mut hasher);
        let hashed = std::hash::Hasher::finish(&hasher);
        self.with_limiter(route, spec, |limiter| {
            let mut checked = self.checked(spec, limiter.check_key(&hashed));
            if checked == Checked::Full && self.may_sweep() {
                // Make room from keys that recovered their quota before refusing anyone new (at
                // most once a second: a full table must not make every request scan it).
                limiter.retain_recent();
                checked = self.checked(spec, limiter.check_key(&hashed));
            }
            checked
        })
    }

    fn checked(
        &self,
        spec: &RateSpec,
        outcome: Result<governor::middleware::StateSnapshot, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    ) -> Checked {
        match outcome {
            Ok(snapshot) => Checked::Allowed(RateDecision::new(spec, snapshot.remaining_burst_capacity())),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                if wait > REFUSED_WAIT { Checked::Full } else { Checked::Limited(RateDecision::new(spec, 0), wait) }
            }
        }
    }

    fn may_sweep(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= 1000)
            && self.last_sweep_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Drops keys that have recovered their full quota and releases the freed table space.
    pub fn cleanup(&self) {
        let routes: Vec<_> = self.routes.load().values().cloned().collect();
        for limiter in routes {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many keys are tracked, over all routes.
    pub fn len(&self) -> usize {
        self.routes.load().values().map(|l| l.len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
