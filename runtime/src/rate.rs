//! Per-route rate limits (GCRA, governor, in this process) and the IETF RateLimit headers.
//!
//! Each endpoint with a declared `rate` gets its own keyed limiter; the key is the subject, the
//! client IP, the OAuth client or the API key, as the endpoint declares. Responses of limited
//! routes carry `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers
//! (`"default";q=10;w=60` and `"default";r=9;t=6`); a 429 adds `Retry-After`.
//!
//! # Examples
//!
//! ```
//! use rampart::rate::RateLimits;
//! use rampart::{RateKey, RateSpec};
//!
//! let limits = RateLimits::default();
//! let spec = RateSpec { count: 2, period_secs: 60, burst: 2, key: RateKey::Subject };
//! assert!(limits.check("GET /x", &spec, "alice").is_ok());
//! assert!(limits.check("GET /x", &spec, "alice").is_ok());
//! assert!(limits.check("GET /x", &spec, "alice").is_err());
//! assert!(limits.check("GET /x", &spec, "bob").is_ok());
//! ```

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::endpoint::RateSpec;

type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The outcome of one check, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Requests allowed per window.
    pub quota: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset_secs: u64,
}

impl RateDecision {
    /// Adds `RateLimit-Policy` and `RateLimit`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
        static STATE: HeaderName = HeaderName::from_static("ratelimit");
        let policy = format!("\"default\";q={};w={}", self.quota, self.window_secs);
        let state = format!("\"default\";r={};t={}", self.remaining, self.reset_secs);
        if let (Ok(policy), Ok(state)) = (HeaderValue::from_str(&policy), HeaderValue::from_str(&state)) {
            headers.insert(POLICY.clone(), policy);
            headers.insert(STATE.clone(), state);
        }
    }
}

/// The limiters of every route, created on first use.
#[derive(Default)]
pub struct RateLimits {
    routes: RwLock<HashMap<String, Arc<KeyedLimiter>>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

fn quota(spec: &RateSpec) -> Quota {
    let count = NonZeroU32::new(spec.count).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(spec.burst).unwrap_or(count);
    let per_request = Duration::from_secs(spec.period_secs) / count.get();
    Quota::with_period(per_request.max(Duration::from_nanos(1))).unwrap_or(Quota::per_second(count)).allow_burst(burst)
}

impl RateLimits {
    fn limiter(&self, route: &str, spec: &RateSpec) -> Arc<KeyedLimiter> {
        if let Some(limiter) = self.routes.read().ok().and_then(|routes| routes.get(route).cloned()) {
            return limiter;
        }
        let mut routes = match self.routes.write() {
            Ok(routes) => routes,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(routes.entry(route.to_owned()).or_insert_with(|| {
            Arc::new(RateLimiter::keyed(quota(spec)).with_middleware::<StateInformationMiddleware>())
        }))
    }

    /// Takes one request from `key`'s quota on `route`.
    ///
    /// # Errors
    ///
    /// When the quota is exhausted: the decision (remaining 0) and how long to wait.
    pub fn check(&self, route: &str, spec: &RateSpec, key: &str) -> Result<RateDecision, (RateDecision, Duration)> {
        let limiter = self.limiter(route, spec);
        let per_request = Duration::from_secs(spec.period_secs) / spec.count.max(1);
        let decision = |remaining: u32| RateDecision {
            quota: spec.count,
            window_secs: spec.period_secs,
            remaining,
            reset_secs: (per_request * spec.burst.saturating_sub(remaining)).as_secs_f64().ceil() as u64,
        };
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Ok(decision(snapshot.remaining_burst_capacity())),
            Err(not_until) => Err((decision(0), not_until.wait_time_from(self.clock.now()))),
        }
    }
}
