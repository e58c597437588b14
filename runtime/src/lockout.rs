//! Lockout of repeated failures: after `N` authentication failures from one client IP (or `N`
//! authorization failures of one subject) within a window, that IP (or subject) gets 429 with
//! `Retry-After` for a cool-down, before any token is parsed or verified.
//!
//! Counters and locks live in memory (this process) or in Redis, shared by every instance, with
//! the rate limiter's backend. Each lock is an audit event with decision `lockout`; each request
//! refused while locked is a `deny` with reason `locked_out`. The client IP is the one the
//! trusted-proxy rules give, so a client cannot escape its lock by sending `X-Forwarded-For`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use rampart::lockout::{Lockout, LockoutKey, LockoutPolicy};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let policy = LockoutPolicy { authn_failures: 3, ..LockoutPolicy::default() };
//! let lockout = Lockout::memory(policy);
//! let ip = LockoutKey::Ip("203.0.113.9".parse().unwrap());
//! assert_eq!(lockout.failure(&ip).await, None);
//! assert_eq!(lockout.failure(&ip).await, None);
//! assert_eq!(lockout.failure(&ip).await, Some(Duration::from_secs(300))); // the third locks
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
    /// A client IP, for authentication failures.
    Ip(IpAddr),
    /// A qualified subject, for authorization failures.
    Subject(&'a str),
}

impl LockoutKey<'_> {
    fn threshold(&self, policy: &LockoutPolicy) -> u32 {
        match self {
            LockoutKey::Ip(_) => policy.authn_failures,
            LockoutKey::Subject(_) => policy.authz_failures,
        }
    }

    fn redis_suffix(&self) -> String {
        match self {
            LockoutKey::Ip(ip) => format!("ip:{ip}"),
            LockoutKey::Subject(subject) => format!("sub:{subject}"),
        }
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
    },
    Redis(RedisStore),
}

/// Counts a failure; at the threshold, sets the lock (PX cool-down) and clears the count.
/// Returns 1 when this failure set the lock.
const FAILURE_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

impl Lockout {
    /// Counters and locks in this process's memory.
    pub fn memory(policy: LockoutPolicy) -> Self {
        let store = Store::Memory {
            entries: Mutex::default(),
            hasher: Default::default(),
            horizon_ms: AtomicU64::new(0),
            epoch: Instant::now(),
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
        let Store::Memory { entries, hasher, horizon_ms, epoch } = &self.store else { return None };
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

    /// Counts one failure of `key`; returns the cool-down when this failure locks it.
    pub async fn failure(&self, key: &LockoutKey<'_>) -> Option<Duration> {
        let threshold = key.threshold(&self.policy);
        if threshold == 0 {
            return None;
        }
        let cooldown = self.policy.cooldown;
        match &self.store {
            Store::Memory { entries, hasher, horizon_ms, epoch } => {
                let now = Instant::now();
                let mut entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if entries.len() >= MAX_MEMORY_KEYS {
                    let window = self.policy.window;
                    entries.retain(|_, e| {
                        e.locked_until.is_some_and(|until| until > now) || now.duration_since(e.window_start) < window
                    });
                    if entries.len() >= MAX_MEMORY_KEYS {
                        entries.retain(|_, e| e.locked_until.is_some_and(|until| until > now));
                    }
                }
                let entry = entries.entry(Self::slot(hasher, key)).or_insert(Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: None,
                });
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
                    return Some(cooldown);
                }
                None
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
                let locked: i64 = redis.invoke(&invocation).await.ok()?;
                (locked == 1).then_some(cooldown)
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
        assert_eq!(lockout.failure(&ip).await, None);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(lockout.failure(&ip).await, None, "the first failure left the window");
        assert!(lockout.failure(&ip).await.is_some());
        assert!(lockout.locked(&ip).await.is_some());
        assert!(lockout.locked(&LockoutKey::Ip(IpAddr::from([192, 0, 2, 2]))).await.is_none());
        tokio::time::sleep(Duration::from_millis(90)).await;
        assert!(lockout.locked(&ip).await.is_none(), "the lock expired");
        // Disabled kind: never counted, never locked.
        let subject = LockoutKey::Subject("alice");
        for _ in 0..10 {
            assert_eq!(lockout.failure(&subject).await, None);
        }
        assert!(lockout.locked(&subject).await.is_none());
    }

    #[tokio::test]
    async fn a_lock_set_after_every_earlier_lock_ended_is_still_seen_at_once() {
        let lockout = memory_lockout(1, 1, 60_000, 30);
        let first = LockoutKey::Ip(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(lockout.locked_now(&first), Some(None), "nothing locked yet");
        assert!(lockout.failure(&first).await.is_some());
        assert!(lockout.locked_now(&first).is_some_and(|left| left.is_some()));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(lockout.locked_now(&first), Some(None), "the lock ended (and the horizon was forgotten)");
        let second = LockoutKey::Subject("bob");
        assert!(lockout.failure(&second).await.is_some());
        assert!(lockout.locked_now(&second).is_some_and(|left| left.is_some()), "the new lock is seen");
        assert_eq!(lockout.locked_now(&first), Some(None));
    }
}
