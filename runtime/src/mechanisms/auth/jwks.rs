//! Keys from a JWKS URL: cached, refreshed periodically and on an unknown `kid`.
//!
//! An unknown `kid` triggers at most one fetch per [`MIN_REFRESH_INTERVAL`] (10 s), however many
//! tokens with invented `kid`s arrive; concurrent misses wait for the one fetch in flight. A fetch
//! that fails (server down, bad JSON, over 1 MiB) keeps the cached keys. Keys are only replaced by
//! a successful fetch, so rotation (a new `kid`) is picked up without a restart. A fetch that
//! returns the keys already held changes nothing: the key generation moves only when the key
//! set does, so a token naming a random `kid` cannot retire the verified-token cache. Keys are
//! fetched at start-up; a token without `kid` that arrives before the first fetch ended waits
//! for it instead of failing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use super::TokenError;
use super::keys::VerificationKey;
use super::signature::{KeyEntry, algorithm_name_matches};

/// The least time between two fetches triggered by unknown `kid`s.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// The largest JWKS document accepted.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a JWKS fetch failed (the cached keys stay in use).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The HTTP request failed or timed out.
    #[error("fetching the JWKS failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error status.
    #[error("the JWKS server answered {0}")]
    Status(reqwest::StatusCode),
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("the JWKS document is over {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The document is not a JWK set.
    #[error("the JWKS document is not a JWK set: {0}")]
    Json(#[from] serde_json::Error),
}

/// The cached keys of one JWKS URL.
#[derive(Debug)]
pub struct JwksCache {
    url: reqwest::Url,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, Arc<KeyEntry>>>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
    /// Moves when a fetch changes the key set: verifications cached under older keys are not used.
    generation: AtomicU64,
    /// The keys held, as their JWK JSON by `kid`: what a fetch is compared with.
    fingerprint: std::sync::Mutex<Vec<(String, String)>>,
    /// Whether a fetch has succeeded yet.
    fetched_once: std::sync::atomic::AtomicBool,
    min_refresh_interval: Duration,
}

impl JwksCache {
    /// Creates the cache and, inside a Tokio runtime, its periodic refresh task (which stops when
    /// the cache is dropped). The first fetch happens on the first token or on [`Self::refresh`].
    pub(crate) fn start(url: reqwest::Url, every: Duration, min_refresh: Duration) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let cache = Arc::new(Self {
            url,
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_fetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            fingerprint: std::sync::Mutex::default(),
            fetched_once: std::sync::atomic::AtomicBool::new(false),
            min_refresh_interval: min_refresh,
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let first = Arc::clone(&cache);
            runtime.spawn(async move { first.fetch_at_start().await });
            let weak = Arc::downgrade(&cache);
            runtime.spawn(periodic_refresh(weak, every.max(min_refresh).max(Duration::from_millis(100))));
        }
        cache
    }

    /// The key set's generation: moves when a fetch changes the keys.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many fetches were attempted (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The `kid`s currently cached.
    pub fn kids(&self) -> Vec<String> {
        self.snapshot().keys().cloned().collect()
    }

    fn snapshot(&self) -> Arc<HashMap<String, Arc<KeyEntry>>> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The start-up fetch, unless a token's fetch got the lock first (then that one was it: the
    /// keys are not fetched twice).
    async fn fetch_at_start(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some() {
            return;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.fetch().await {
            tracing::warn!(target: "rampart::jwks", error = %err, "JWKS fetch at start-up failed; retrying on the first token");
        }
    }

    /// Fetches the document now, replacing the cached keys on success.
    ///
    /// # Errors
    ///
    /// A [`JwksError`]; the previous keys stay cached.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        // Held during the fetch: a token that needs the keys waits for this fetch, not another.
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    async fn fetch(&self) -> Result<usize, JwksError> {
        let result = self.fetch_keys().await;
        crate::telemetry::record_jwks_fetch(result.is_ok());
        result
    }

    async fn fetch_keys(&self) -> Result<usize, JwksError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let mut request = self.client.get(self.url.clone());
        // A fetch a request caused continues that request's trace.
        if let Some(traceparent) = crate::trace::outgoing_traceparent() {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status()));
        }
        let body = super::remote::body_within(response, MAX_JWKS_BYTES).await?.ok_or(JwksError::TooLarge)?;
        let set: JwkSet = serde_json::from_slice(&body)?;
        let mut keys = HashMap::new();
        let mut fingerprint = Vec::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            match VerificationKey::from_jwk(jwk) {
                Ok(key) => {
                    fingerprint.push((kid.clone(), serde_json::to_string(jwk).unwrap_or_default()));
                    keys.insert(kid, Arc::new(KeyEntry::new(key)));
                }
                Err(err) => tracing::warn!(target: "rampart::jwks", kid, error = %err, "skipping JWK"),
            }
        }
        fingerprint.sort();
        let count = keys.len();
        self.fetched_once.store(true, Ordering::Release);
        {
            let mut held = self.fingerprint.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *held == fingerprint {
                // The same keys: keep them, and every verification cached under them.
                return Ok(count);
            }
            *held = fingerprint;
        }
        match self.keys.write() {
            Ok(mut guard) => *guard = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        self.generation.fetch_add(1, Ordering::Release);
        Ok(count)
    }

    /// The key for `kid`, fetching the document once if it is unknown and the last fetch is older
    /// than the minimum interval.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<KeyEntry>, TokenError> {
        if let Some(entry) = self.snapshot().get(kid) {
            return Ok(Arc::clone(entry));
        }
        self.fetch_if_due(Some(kid)).await;
        self.snapshot().get(kid).cloned().ok_or(TokenError::UnknownKey)
    }

    /// Fetches the document unless `kid` arrived meanwhile or the last fetch is more recent than
    /// the minimum interval; concurrent callers wait for the one fetch.
    async fn fetch_if_due(&self, kid: Option<&str>) {
        {
            let mut last = self.last_fetch.lock().await;
            // Another request may have fetched while this one waited for the lock.
            let arrived = match kid {
                Some(kid) => self.snapshot().contains_key(kid),
                None => self.fetched_once.load(Ordering::Acquire),
            };
            if arrived {
                return;
            }
            if last.is_none_or(|at| at.elapsed() >= self.min_refresh_interval) {
                *last = Some(Instant::now());
                if let Err(err) = self.fetch().await {
                    tracing::warn!(target: "rampart::jwks", error = %err, "JWKS refresh failed; keeping cached keys");
                }
            }
        }
    }

    /// The single cached key of algorithm `alg`, for tokens without `kid`; before the first
    /// successful fetch, waits for one (the start-up fetch, or a new one when it failed).
    pub(crate) async fn only_key_for(&self, alg: &str) -> Option<Arc<KeyEntry>> {
        if !self.fetched_once.load(Ordering::Acquire) {
            // Waits for the start-up fetch if it is running (it holds the lock), else fetches.
            self.fetch_if_due(None).await;
        }
        let keys = self.snapshot();
        let mut matching = keys.values().filter(|e| algorithm_name_matches(e.key.algorithm, alg));
        match (matching.next(), matching.next()) {
            (Some(only), None) => Some(Arc::clone(only)),
            _ => None,
        }
    }
}

async fn periodic_refresh(cache: Weak<JwksCache>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(cache) = cache.upgrade() else { return };
        if let Err(err) = cache.refresh().await {
            tracing::warn!(target: "rampart::jwks", error = %err, "periodic JWKS refresh failed; keeping cached keys");
        }
    }
}
