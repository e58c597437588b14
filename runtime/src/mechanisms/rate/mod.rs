//! Per-route rate limits (GCRA) in memory or in Redis, and the IETF RateLimit headers.
//!
//! Each endpoint with a declared `rate` is limited per key: the subject, the client IP, the OAuth
//! client or the API key, as the endpoint declares. Responses of limited routes carry the fields of
//! draft-ietf-httpapi-ratelimit-headers (the structured-field form of drafts 08 and later):
//! `RateLimit-Policy: "default";q=10;w=60` and `RateLimit: "default";r=9;t=6`; a 429 adds
//! `Retry-After`.
//!
//! Backends: [`MemoryStore`] (governor, this process; the default) and [`RedisStore`] (one shared
//! limit across instances). When Redis fails or is slower than its timeout, the [`FailureMode`]
//! decides: `Local` (default) falls back to this instance's memory store, `Open` allows, `Closed`
//! answers 503; each fallback is audited. After a failure Redis is left alone for a second, then
//! tried again, so a dead Redis costs at most one timeout per second, not one per request.
//!
//! # Examples
//!
//! ```
//! use rampart::rate::{Checked, MemoryStore};
//! use rampart::{RateKey, RateSpec};
//!
//! let store = MemoryStore::default();
//! let spec = RateSpec { count: 2, period_secs: 60, burst: 2, key: RateKey::Subject };
//! let route = ("GET", "/x");
//! assert!(matches!(store.check(route, &spec, "alice"), Checked::Allowed(_)));
//! assert!(matches!(store.check(route, &spec, "alice"), Checked::Allowed(_)));
//! assert!(matches!(store.check(route, &spec, "alice"), Checked::Limited(..)));
//! assert!(matches!(store.check(route, &spec, "bob"), Checked::Allowed(_)));
//! ```

mod decision;
mod memory;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use self::decision::{Checked, POLICY_HEADER, RateDecision, STATE_HEADER};
pub(crate) use self::decision::{QuotaKey, insert_headers};
pub use self::memory::{DEFAULT_MAX_KEYS, MemoryStore};
pub use self::redis::{DEFAULT_REDIS_TIMEOUT, RedisRevocations, RedisStore, RedisStoreError};
use crate::contract::RateSpec;

/// What happens when the shared rate-limit store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Fall back to this instance's in-memory limiter.
    Local,
    /// Allow the request.
    Open,
    /// Refuse with 503.
    Closed,
}

/// Why a check did not come from the shared store (for the audit event), if it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degraded {
    /// Redis failed; this instance's memory store decided.
    LocalFallback,
    /// Redis failed; the request was allowed unchecked.
    FailOpen,
    /// Redis failed; the request was refused.
    FailClosed,
}

impl Degraded {
    /// The audit reason.
    pub fn reason(self) -> &'static str {
        match self {
            Degraded::LocalFallback => "rate_store_fallback_local",
            Degraded::FailOpen => "rate_store_fail_open",
            Degraded::FailClosed => "rate_store_fail_closed",
        }
    }
}

/// How long Redis is left alone after a failure.
const RETRY_REDIS_AFTER: Duration = Duration::from_secs(1);

/// The rate limiter of a service: a memory store, optionally Redis in front of it.
pub struct RateLimiter {
    memory: MemoryStore,
    redis: Option<RedisStore>,
    failure_mode: FailureMode,
    started: Instant,
    redis_down_until_ms: AtomicU64,
    degraded_audited_ms: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("memory", &self.memory)
            .field("redis", &self.redis)
            .field("failure_mode", &self.failure_mode)
            .finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::memory(MemoryStore::default())
    }
}

impl RateLimiter {
    /// Limits in this process only.
    pub fn memory(store: MemoryStore) -> Self {
        Self {
            memory: store,
            redis: None,
            failure_mode: FailureMode::Local,
            started: Instant::now(),
            redis_down_until_ms: AtomicU64::new(0),
            degraded_audited_ms: AtomicU64::new(0),
        }
    }

    /// Limits shared through Redis; `failure_mode` applies when Redis fails; `local` is the
    /// fallback store of this instance.
    pub fn redis(redis: RedisStore, failure_mode: FailureMode, local: MemoryStore) -> Self {
        Self { redis: Some(redis), failure_mode, ..Self::memory(local) }
    }

    /// The in-memory store (the primary one, or the fallback).
    pub fn memory_store(&self) -> &MemoryStore {
        &self.memory
    }

    /// The Redis store, when configured.
    pub fn redis_store(&self) -> Option<&RedisStore> {
        self.redis.as_ref()
    }

    /// Starts the periodic cleanup of the memory store (every `every`), stopped when the limiter
    /// is dropped.
    pub fn spawn_cleanup(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    let Some(limiter) = weak.upgrade() else { return };
                    limiter.memory.cleanup();
                }
            });
        }
    }

    /// Whether a degraded decision should be audited now: at most one event per second, so an
    /// outage is recorded without one line per request.
    pub fn should_audit_degraded(&self) -> bool {
        let now = self.now_ms().max(1);
        let last = self.degraded_audited_ms.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= 1000)
            && self.degraded_audited_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes one request from `key`'s quota on `route`, and says whether the shared store was
    /// bypassed.
    pub async fn check(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        key: &str,
    ) -> (Checked, Option<Degraded>) {
        self.check_key(route, spec, &QuotaKey::text(key)).await
    }

    /// [`RateLimiter::check`] for a key given in parts.
    pub(crate) async fn check_key(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        key: &QuotaKey<'_>,
    ) -> (Checked, Option<Degraded>) {
        let Some(redis) = &self.redis else {
            return (self.memory.check_key(route, spec, key), None);
        };
        if self.now_ms() >= self.redis_down_until_ms.load(Ordering::Relaxed) {
            match redis.check(route, spec, &key.joined()).await {
                Ok(Ok(decision)) => return (Checked::Allowed(decision), None),
                Ok(Err((decision, wait))) => return (Checked::Limited(decision, wait), None),
                Err(err) => {
                    tracing::warn!(target: "rampart::rate", error = %err, "rate-limit store unavailable");
                    let retry_at = self.now_ms() + u64::try_from(RETRY_REDIS_AFTER.as_millis()).unwrap_or(1000);
                    self.redis_down_until_ms.store(retry_at, Ordering::Relaxed);
                }
            }
        }
        match self.failure_mode {
            FailureMode::Local => (self.memory.check_key(route, spec, key), Some(Degraded::LocalFallback)),
            FailureMode::Open => (Checked::AllowedUnchecked, Some(Degraded::FailOpen)),
            FailureMode::Closed => (Checked::Unavailable, Some(Degraded::FailClosed)),
        }
    }

    /// [`RateLimiter::check_key`] without waiting: the memory store's answer, or `None` when a
    /// shared store is configured (its answer needs a round trip).
    pub(crate) fn check_now(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        key: &QuotaKey<'_>,
    ) -> Option<Checked> {
        self.redis.is_none().then(|| self.memory.check_key(route, spec, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RateKey;
    use axum::http::HeaderMap;

    #[test]
    fn decision_headers() {
        let spec = RateSpec { count: 10, period_secs: 60, burst: 10, key: RateKey::Subject };
        let mut headers = HeaderMap::new();
        RateDecision::new(&spec, 7).write_headers(&mut headers);
        assert_eq!(headers["ratelimit-policy"], "\"default\";q=10;w=60");
        assert_eq!(headers["ratelimit"], "\"default\";r=7;t=18");
        let big = RateSpec { count: u32::MAX, period_secs: u64::MAX / 4, burst: u32::MAX, key: RateKey::Subject };
        let mut headers = HeaderMap::new();
        RateDecision::new(&big, 0).write_headers(&mut headers);
        assert_eq!(headers["ratelimit-policy"], format!("\"default\";q={};w={}", u32::MAX, u64::MAX / 4));
    }

    #[test]
    fn a_key_hashes_the_same_in_parts_or_joined() {
        use std::hash::BuildHasher as _;
        let state = std::hash::RandomState::new();
        let hash = |key: QuotaKey<'_>| {
            let mut hasher = state.build_hasher();
            key.hash_into(&mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        let parts = QuotaKey::Text(["sub:", "jwt:iss#", "alice", ""]);
        assert_eq!(parts.joined(), "sub:jwt:iss#alice");
        assert_eq!(hash(parts), hash(QuotaKey::text("sub:jwt:iss#alice")));
        assert_ne!(hash(parts), hash(QuotaKey::text("sub:jwt:iss#alicf")));
        let ip = QuotaKey::Ip(std::net::IpAddr::from([192, 0, 2, 1]));
        assert_eq!(ip.joined(), "ip:192.0.2.1");
        assert_ne!(hash(ip), hash(QuotaKey::Ip(std::net::IpAddr::from([192, 0, 2, 2]))));
    }
}
