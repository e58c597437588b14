//! Lockout of credential guessing: after `N` guessed credentials from one client IP (or `N`
//! authorization failures of one subject) within a window, further *failing* credentials from
//! that IP get 429 with `Retry-After` for a cool-down.
//!
//! A lockout stops guessing, not users. What counts as a guess is decided by
//! [`crate::auth::AuthError::is_guess`]: a bad signature, an unknown key id, a malformed token,
//! an unknown API key (and, at `/oauth/token`, a wrong client secret, per client id and per IP).
//! A validly signed token that is expired, not yet valid or for another audience is answered
//! `401 invalid_token` and never counted, locked IP or not, so that a client refreshes instead of
//! backing off. A credential that verifies is served from a locked IP like from any other: many
//! users share one address behind NAT or a proxy, and one of them guessing must not lock out the
//! rest. What a locked IP can still make the server spend is bounded by [`VerificationBudget`]:
//! uncached *asymmetric* verifications from a locked IP are limited to
//! [`LOCKED_VERIFICATIONS_PER_SEC`] per second (HMAC verifications cost about as much as the
//! parse that precedes them and are not limited).
//!
//! Counters and locks live in memory (this process) or in Redis, shared by every instance, with
//! the rate limiter's backend. Each lock is an audit event with decision `lockout`; each failing
//! credential refused while locked is a `deny` with reason `locked_out`. The client IP is the one
//! the trusted-proxy rules give (IPv6 by its /64, [`crate::client_ip::subscriber`]), so a client
//! cannot escape its lock by sending `X-Forwarded-For`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use rampart::lockout::{Failure, Lockout, LockoutKey, LockoutPolicy};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let policy = LockoutPolicy { authn_failures: 3, ..LockoutPolicy::default() };
//! let lockout = Lockout::memory(policy);
//! let ip = LockoutKey::ip("203.0.113.9".parse().unwrap());
//! assert_eq!(lockout.failure(&ip).await, Failure::Counted);
//! assert_eq!(lockout.failure(&ip).await, Failure::Counted);
//! assert_eq!(lockout.failure(&ip).await, Failure::Locked(Duration::from_secs(300))); // the third locks
//! assert!(matches!(lockout.failure(&ip).await, Failure::AlreadyLocked(_)));
//! assert!(lockout.locked(&ip).await.is_some());
//! # });
//! ```

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::rate::RedisStore;

/// Thresholds and durations. `0` failures disables that kind of lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Authentication failures (401) from one client IP that lock it.
    pub authn_failures: u32,
    /// Authorization failures (403) of one subject that lock it.
    pub authz_failures: u32,
    /// The window the failures are counted in.
    pub window: Duration,
    /// How long a lock lasts.
    pub cooldown: Duration,
}

impl Default for LockoutPolicy {
    /// 20 failures in a minute lock for five minutes: far above what a legitimate client with an
    /// expired token or a misconfigured scope produces before it stops and fixes itself.
    fn default() -> Self {
        Self {
            authn_failures: 20,
            authz_failures: 20,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(300),
        }
    }
}

/// What is counted and locked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockoutKey<'a> {
    /// A client IP (build it with [`LockoutKey::ip`], which takes an IPv6 address by its /64),
    /// for guessed credentials.
    Ip(IpAddr),
    /// An OAuth client id, for wrong client secrets at the token endpoint.
    Client(&'a str),
    /// A qualified subject, for authorization failures.
    Subject(&'a str),
}

impl LockoutKey<'_> {
    /// The key of a client address: IPv4 as is, IPv6 by its /64 ([`crate::client_ip::subscriber`]).
    pub fn ip(ip: IpAddr) -> LockoutKey<'static> {
        LockoutKey::Ip(crate::client_ip::subscriber(ip))
    }

    fn threshold(&self, policy: &LockoutPolicy) -> u32 {
        match self {
            LockoutKey::Ip(_) | LockoutKey::Client(_) => policy.authn_failures,
            LockoutKey::Subject(_) => policy.authz_failures,
        }
    }

    fn redis_suffix(&self) -> String {
        match self {
            LockoutKey::Ip(ip) => format!("ip:{ip}"),
            LockoutKey::Client(id) => format!("client:{id}"),
            LockoutKey::Subject(subject) => format!("sub:{subject}"),
        }
    }
}

/// What counting one failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted (or not counted at all: that kind of lockout is off, or the store did not answer).
    Counted,
    /// This failure reached the threshold and set a lock of this length.
    Locked(Duration),
    /// The key was locked already, for this long still; the failure was not counted (a lock is
    /// not renewed by the guesses it refuses, so it always ends).
    AlreadyLocked(Duration),
}

/// How many uncached asymmetric verifications one locked IP may cause per second.
pub const LOCKED_VERIFICATIONS_PER_SEC: u32 = 2;
/// How many it may cause at once (the burst of [`LOCKED_VERIFICATIONS_PER_SEC`]).
pub const LOCKED_VERIFICATIONS_BURST: u32 = 4;

/// The CPU a locked IP may still spend on signature checks: [`LOCKED_VERIFICATIONS_PER_SEC`]
/// uncached asymmetric verifications per second (burst [`LOCKED_VERIFICATIONS_BURST`]), per
/// instance. Beyond it, a request from the locked IP whose token is not cached gets 429 with
/// `Retry-After: 1` without being verified. At ES256's ~35 µs per verification that is about
/// 70 µs of CPU per second per locked IP.
///
/// # Examples
///
/// ```
/// use rampart::lockout::{VerificationBudget, LOCKED_VERIFICATIONS_BURST};
///
/// let budget = VerificationBudget::default();
/// let ip = "192.0.2.1".parse().unwrap();
/// for _ in 0..LOCKED_VERIFICATIONS_BURST {
///     assert!(budget.take(ip));
/// }
/// assert!(!budget.take(ip), "the burst is spent");
/// assert!(budget.take("192.0.2.2".parse().unwrap()), "each IP has its own");
/// ```
pub struct VerificationBudget {
    buckets: governor::DefaultKeyedRateLimiter<IpAddr>,
    /// When the buckets were last swept (ms after `epoch`): at most once a second.
    swept_ms: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for VerificationBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationBudget").field("keys", &self.buckets.len()).finish()
    }
}

impl Default for VerificationBudget {
    fn default() -> Self {
        let per_sec = std::num::NonZeroU32::new(LOCKED_VERIFICATIONS_PER_SEC).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(LOCKED_VERIFICATIONS_BURST).unwrap_or(std::num::NonZeroU32::MIN);
        Self {
            buckets: governor::RateLimiter::keyed(governor::Quota::per_second(per_sec).allow_burst(burst)),
            swept_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl VerificationBudget {
    /// The most IPs tracked; beyond, recovered buckets are dropped.
    const MAX_KEYS: usize = 100_000;

    /// Takes one verification from `ip`'s budget; `false` when it is spent, or when so many
    /// IPs hold a budget that a new one cannot be tracked (then the locked IP verifies nothing
    /// new until buckets recover).
    pub fn take(&self, ip: IpAddr) -> bool {
        if self.buckets.len() >= Self::MAX_KEYS {
            let now_ms = millis_since(self.epoch, Instant::now());
            if now_ms >= self.swept_ms.load(Ordering::Relaxed).saturating_add(1000) {
                self.swept_ms.store(now_ms, Ordering::Relaxed);
                self.buckets.retain_recent();
            }
            if self.buckets.len() >= Self::MAX_KEYS {
                return false;
            }
        }
        self.buckets.check_key(&crate::client_ip::subscriber(ip)).is_ok()
    }
}

/// The most keys tracked in memory; beyond it, expired entries are swept and, if that is not
/// enough, counting starts over (locks already set are kept).
const MAX_MEMORY_KEYS: usize = 100_000;

#[derive(Debug)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// Failure counters and locks.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    store: Store,
}

#[derive(Debug)]
enum Store {
    Memory {
        entries: Mutex<HashMap<u64, Entry>>,
        hasher: std::collections::hash_map::RandomState,
        /// When the last lock set so far ends, in milliseconds after `epoch` (0: no lock is set):
        /// while no key is locked, a check is one atomic load, without a clock read or a lookup.
        horizon_ms: AtomicU64,
        epoch: Instant,
        /// When the map was last swept (ms after `epoch`): at most once a second.
        swept_ms: AtomicU64,
    },
    Redis(RedisStore),
}

/// Counts a failure unless the key is locked; at the threshold, sets the lock (PX cool-down) and
/// clears the count. Returns {0, 0} when counted, {1, cool-down ms} when this failure set the
/// lock, {2, ms left} when the key was locked already.
const FAILURE_SCRIPT: &str = r"
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {2, left} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return {1, tonumber(ARGV[3])}
end
return {0, 0}
";

impl Lockout {
    /// Counters and locks in this process's memory.
    pub fn memory(policy: LockoutPolicy) -> Self {
        let store = Store::Memory {
            entries: Mutex::default(),
            hasher: Default::default(),
            horizon_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            swept_ms: AtomicU64::new(0),
        };
        Self { policy, store }
    }

    /// Counters and locks in Redis, shared by every instance using `store`'s prefix.
    pub fn redis(policy: LockoutPolicy, store: RedisStore) -> Self {
        Self { policy, store: Store::Redis(store) }
    }

    /// Whether counters and locks are in this process (a check costs no round trip).
    pub fn is_local(&self) -> bool {
        matches!(self.store, Store::Memory { .. })
    }

    /// The policy.
    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    fn enabled(&self, key: &LockoutKey<'_>) -> bool {
        key.threshold(&self.policy) > 0
    }

    fn slot(hasher: &std::collections::hash_map::RandomState, key: &LockoutKey<'_>) -> u64 {
        hasher.hash_one(key)
    }

    /// How long `key` stays locked, if it is. A store that cannot answer locks nothing (the
    /// rate limits still apply), so a Redis outage never locks everyone out.
    pub async fn locked(&self, key: &LockoutKey<'_>) -> Option<Duration> {
        if let Some(answer) = self.locked_now(key) {
            return answer;
        }
        let Store::Redis(redis) = &self.store else { return None };
        let lock = redis.key(&format!("lock:{}", key.redis_suffix()));
        let millis: i64 = redis.query(redis::cmd("PTTL").arg(lock)).await.ok()?;
        (millis > 0).then(|| Duration::from_millis(millis.unsigned_abs()))
    }

    /// [`Lockout::locked`] without waiting: `None` when the answer needs a round trip to a shared
    /// store.
    pub(crate) fn locked_now(&self, key: &LockoutKey<'_>) -> Option<Option<Duration>> {
        if !self.enabled(key) {
            return Some(None);
        }
        let Store::Memory { entries, hasher, horizon_ms, epoch, .. } = &self.store else { return None };
        // Nothing locked since every lock so far ended: no clock read, no lookup.
        let horizon = horizon_ms.load(Ordering::Relaxed);
        if horizon == 0 {
            return Some(None);
        }
        let now = Instant::now();
        if millis_since(*epoch, now) >= horizon {
            // Every lock set so far has ended: forget the horizon, so that the next checks skip
            // the clock again. A lock set meanwhile moved the horizon up, and this fails.
            let _ = horizon_ms.compare_exchange(horizon, 0, Ordering::Relaxed, Ordering::Relaxed);
            return Some(None);
        }
        let entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = entries.get(&Self::slot(hasher, key)).and_then(|entry| entry.locked_until);
        Some(until.and_then(|until| until.checked_duration_since(now)).filter(|left| !left.is_zero()))
    }

    /// Counts one failure of `key`, unless it is locked already (see [`Failure`]).
    pub async fn failure(&self, key: &LockoutKey<'_>) -> Failure {
        let threshold = key.threshold(&self.policy);
        if threshold == 0 {
            return Failure::Counted;
        }
        let cooldown = self.policy.cooldown;
        match &self.store {
            Store::Memory { entries, hasher, horizon_ms, epoch, swept_ms } => {
                let now = Instant::now();
                let mut entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let slot = Self::slot(hasher, key);
                let now_ms = millis_since(*epoch, now);
                let sweep_due = now_ms >= swept_ms.load(Ordering::Relaxed).saturating_add(1000);
                if entries.len() >= MAX_MEMORY_KEYS && sweep_due && !entries.contains_key(&slot) {
                    swept_ms.store(now_ms, Ordering::Relaxed);
                    let window = self.policy.window;
                    entries.retain(|_, e| {
                        e.locked_until.is_some_and(|until| until > now) || now.duration_since(e.window_start) < window
                    });
                    if entries.len() >= MAX_MEMORY_KEYS {
                        entries.retain(|_, e| e.locked_until.is_some_and(|until| until > now));
                    }
                }
                if entries.len() >= MAX_MEMORY_KEYS && !entries.contains_key(&slot) {
                    // Full of live locks and counts: a new key is not tracked until a sweep frees room.
                    return Failure::Counted;
                }
                let entry = entries.entry(slot).or_insert(Entry { failures: 0, window_start: now, locked_until: None });
                if let Some(left) = entry.locked_until.and_then(|until| until.checked_duration_since(now))
                    && !left.is_zero()
                {
                    return Failure::AlreadyLocked(left);
                }
                if now.duration_since(entry.window_start) >= self.policy.window {
                    entry.failures = 0;
                    entry.window_start = now;
                }
                entry.failures += 1;
                if entry.failures >= threshold {
                    entry.failures = 0;
                    entry.window_start = now;
                    entry.locked_until = Some(now + cooldown);
                    // Rounded up, so that a check never skips a lock that has not ended.
                    horizon_ms.fetch_max(millis_since(*epoch, now + cooldown) + 1, Ordering::Relaxed);
                    return Failure::Locked(cooldown);
                }
                Failure::Counted
            }
            Store::Redis(redis) => {
                let suffix = key.redis_suffix();
                let script = redis::Script::new(FAILURE_SCRIPT);
                let mut invocation = script.key(redis.key(&format!("fail:{suffix}")));
                invocation
                    .key(redis.key(&format!("lock:{suffix}")))
                    .arg(u64::try_from(self.policy.window.as_millis()).unwrap_or(u64::MAX))
                    .arg(threshold)
                    .arg(u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX));
                let Ok((state, millis)) = redis.invoke::<(i64, i64)>(&invocation).await else {
                    return Failure::Counted;
                };
                let millis = Duration::from_millis(millis.unsigned_abs());
                match state {
                    1 => Failure::Locked(millis),
                    2 => Failure::AlreadyLocked(millis),
                    _ => Failure::Counted,
                }
            }
        }
    }
}

/// Whole milliseconds from `epoch` to `at`.
fn millis_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memory lockout locking after `authn`/`authz` failures within `window_ms`, for `cooldown_ms`.
    fn memory_lockout(authn_failures: u32, authz_failures: u32, window_ms: u64, cooldown_ms: u64) -> Lockout {
        Lockout::memory(LockoutPolicy {
            authn_failures,
            authz_failures,
            window: Duration::from_millis(window_ms),
            cooldown: Duration::from_millis(cooldown_ms),
        })
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_add_up_and_a_lock_expires() {
        let lockout = memory_lockout(2, 0, 50, 80);
        let ip = LockoutKey::Ip(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(lockout.failure(&ip).await, Failure::Counted);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(lockout.failure(&ip).await, Failure::Counted, "the first failure left the window");
        assert!(matches!(lockout.failure(&ip).await, Failure::Locked(_)));
        assert!(matches!(lockout.failure(&ip).await, Failure::AlreadyLocked(_)), "not counted, not renewed");
        assert!(lockout.locked(&ip).await.is_some());
        assert!(lockout.locked(&LockoutKey::Ip(IpAddr::from([192, 0, 2, 2]))).await.is_none());
        tokio::time::sleep(Duration::from_millis(90)).await;
        assert!(lockout.locked(&ip).await.is_none(), "the lock expired");
        // Disabled kind: never counted, never locked.
        let subject = LockoutKey::Subject("alice");
        for _ in 0..10 {
            assert_eq!(lockout.failure(&subject).await, Failure::Counted);
        }
        assert!(lockout.locked(&subject).await.is_none());
    }

    #[tokio::test]
    async fn a_lock_set_after_every_earlier_lock_ended_is_still_seen_at_once() {
        let lockout = memory_lockout(1, 1, 60_000, 30);
        let first = LockoutKey::Ip(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(lockout.locked_now(&first), Some(None), "nothing locked yet");
        assert!(matches!(lockout.failure(&first).await, Failure::Locked(_)));
        assert!(lockout.locked_now(&first).is_some_and(|left| left.is_some()));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(lockout.locked_now(&first), Some(None), "the lock ended (and the horizon was forgotten)");
        let second = LockoutKey::Subject("bob");
        assert!(matches!(lockout.failure(&second).await, Failure::Locked(_)));
        assert!(lockout.locked_now(&second).is_some_and(|left| left.is_some()), "the new lock is seen");
        assert_eq!(lockout.locked_now(&first), Some(None));
    }
}

#[cfg(test)]
mod ipv6_tests {
    use super::*;

    #[tokio::test]
    async fn an_ipv6_client_is_locked_by_its_64_prefix() {
        let lockout = Lockout::memory(LockoutPolicy { authn_failures: 2, ..LockoutPolicy::default() });
        let first = LockoutKey::ip("2001:db8:7:7::1".parse().unwrap());
        let same_prefix = LockoutKey::ip("2001:db8:7:7:ffff::2".parse().unwrap());
        let other_prefix = LockoutKey::ip("2001:db8:7:8::1".parse().unwrap());
        assert_eq!(lockout.failure(&first).await, Failure::Counted);
        assert!(matches!(lockout.failure(&same_prefix).await, Failure::Locked(_)), "one subscriber, one count");
        assert!(lockout.locked(&first).await.is_some());
        assert!(lockout.locked(&other_prefix).await.is_none());
    }
}
