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
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::decision::{Checked, QuotaKey, RateDecision};
use crate::contract::RateSpec;

type KeyedLimiter = RateLimiter<u64, BoundedStore, DefaultClock, StateInformationMiddleware>;
type Routes = HashMap<(&'static str, &'static str), Arc<KeyedLimiter>, rustc_hash::FxBuildHasher>;

/// A TAT so far ahead that the GCRA refuses: what a key beyond the ceiling is given, untracked.
const REFUSED_TAT: u64 = u64::MAX / 4;

/// The keys' GCRA states in a map whose reads take no lock, with a ceiling: at `max` keys, a key
/// it does not already track is refused without being inserted, while tracked keys keep their
/// quotas.
///
/// A check of a tracked key writes only that key's state (one compare-and-swap): worker threads
/// checking different keys at once write no shared word (governor's own store is a `DashMap`,
/// whose shard read locks every reader writes). Entries are stored inline, so the table's memory
/// goes back to the system when keys are dropped. The keys are already SipHash values under a
/// secret seed, which no client can aim: the map spreads them with one multiplication (FxHash)
/// instead of hashing them again.
///
/// Known limit: when the table grows, `HashIndex` copies each entry to its new place, and a
/// check that updates the old copy in that instant is lost (scc documents it for `peek`): the key
/// may get one request more than its quota per check racing a resize. `read_sync` would close
/// it with a shared lock per check, which costs the scaling above; not measured yet.
struct BoundedStore {
    keys: scc::HashIndex<u64, KeyState, rustc_hash::FxBuildHasher>,
    max: usize,
    /// The number of keys, counted in stripes (a thread to a stripe, each on its own cache line)
    /// as keys are added, and set again from the table after each sweep.
    count: [CachePadded<AtomicIsize>; STRIPES],
}

const STRIPES: usize = 16;

thread_local! {
    /// This thread's stripe of the key counters.
    static STRIPE: Cell<usize> = Cell::new(next_stripe());
}

fn next_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
}

impl BoundedStore {
    fn new(max: usize) -> Self {
        let count = std::array::from_fn(|_| CachePadded::new(AtomicIsize::new(0)));
        Self { keys: scc::HashIndex::with_hasher(rustc_hash::FxBuildHasher), max, count }
    }

    fn count(&self) -> usize {
        usize::try_from(self.count.iter().map(|stripe| stripe.load(Ordering::Relaxed)).sum::<isize>()).unwrap_or(0)
    }
}

impl StateStore for BoundedStore {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if let Some(state) = self.keys.peek(key, &scc::Guard::new()) {
            return state.measure_and_replace(f);
        }
        // Threads adding keys at the same moment can each pass this count: the ceiling is
        // exceeded by at most one key per worker thread.
        if self.count() >= self.max {
            return f(Some(Nanos::from(REFUSED_TAT))).map(|(outcome, _)| outcome);
        }
        let entry = match self.keys.entry_sync(*key) {
            scc::hash_index::Entry::Occupied(entry) => entry,
            scc::hash_index::Entry::Vacant(entry) => {
                self.count[STRIPE.with(Cell::get)].fetch_add(1, Ordering::Relaxed);
                entry.insert_entry(KeyState::default())
            }
        };
        entry.get().measure_and_replace(f)
    }
}

impl ShrinkableKeyedStateStore<u64> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.keys.retain_sync(|_, state| !state.is_older_than(drop_below));
        // Counted again from the table (keys added meanwhile may be counted twice: the count
        // errs on the side of the ceiling, and the next sweep sets it right).
        let counted = isize::try_from(self.keys.len()).unwrap_or(isize::MAX);
        for (n, stripe) in self.count.iter().enumerate() {
            stripe.store(if n == 0 { counted } else { 0 }, Ordering::Relaxed);
        }
    }

    fn shrink_to_fit(&self) {
        // The table shrinks itself as it empties.
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One key's GCRA state: its theoretical arrival time in nanoseconds since the limiter was made
/// (0: none yet), replaced by compare-and-swap, as governor's `InMemoryState` does (whose
/// methods other stores cannot call).
#[derive(Default)]
struct KeyState(AtomicU64);

impl Clone for KeyState {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl KeyState {
    fn measure_and_replace<T, E>(&self, f: impl Fn(Option<Nanos>) -> Result<(T, Nanos), E>) -> Result<T, E> {
        let mut previous = self.0.load(Ordering::Acquire);
        loop {
            let (outcome, next) = f(NonZeroU64::new(previous).map(|tat| Nanos::from(tat.get())))?;
            match self.0.compare_exchange_weak(previous, next.into(), Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return Ok(outcome),
                Err(current) => previous = current,
            }
        }
    }

    /// Whether the key has its whole quota back at `instant`.
    fn is_older_than(&self, instant: Nanos) -> bool {
        self.0.load(Ordering::Relaxed) <= u64::from(instant)
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
        // The dropped entries and tables are freed once every thread has moved past the epoch
        // they were dropped in: move it on now, so that the memory goes back before the next
        // checks come.
        for _ in 0..4 {
            scc::Guard::new().accelerate();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RateKey;

    const ROUTE: (&str, &str) = ("GET", "/notes");

    #[test]
    fn at_the_ceiling_new_keys_are_refused_and_tracked_keys_keep_their_quota() {
        let store = MemoryStore::with_max_keys(3);
        let spec = RateSpec { count: 100, period_secs: 60, burst: 100, key: RateKey::Subject };
        for key in ["a", "b", "c"] {
            assert!(matches!(store.check(ROUTE, &spec, key), Checked::Allowed(_)), "{key}");
        }
        assert_eq!(store.check(ROUTE, &spec, "d"), Checked::Full);
        assert!(matches!(store.check(ROUTE, &spec, "a"), Checked::Allowed(_)));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn cleanup_drops_recovered_keys_and_makes_room_for_new_ones() {
        let store = MemoryStore::with_max_keys(2);
        // One request per millisecond: a key has its whole quota back 2 ms after its request.
        let spec = RateSpec { count: 1000, period_secs: 1, burst: 1, key: RateKey::Subject };
        for key in ["a", "b"] {
            assert!(matches!(store.check(ROUTE, &spec, key), Checked::Allowed(_)));
        }
        assert!(matches!(store.check(ROUTE, &spec, "a"), Checked::Limited(..)), "the burst of 1 is used");
        std::thread::sleep(Duration::from_millis(20));
        store.cleanup();
        assert_eq!(store.len(), 0);
        for key in ["c", "d"] {
            assert!(matches!(store.check(ROUTE, &spec, key), Checked::Allowed(_)), "{key}");
        }
        assert_eq!(store.check(ROUTE, &spec, "e"), Checked::Full);
    }

    #[test]
    fn threads_checking_one_key_share_its_quota_exactly() {
        let store = MemoryStore::default();
        let spec = RateSpec { count: 1000, period_secs: 3600, burst: 1000, key: RateKey::Subject };
        let allowed = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..500 {
                        if matches!(store.check(ROUTE, &spec, "shared"), Checked::Allowed(_)) {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 1000, "2,000 requests against a burst of 1,000");
    }
}
