//! Token revocation by issuer and `jti`.
//!
//! A verified token whose issuer and `jti` are on the list is refused: entries are
//! [`revocation_key`]s, so that two issuers' tokens with the same `jti` are never confused (one
//! issuer's revocation does not refuse another's token). The list is a trait so that the Redis
//! backend (shared across instances) and the in-memory one are interchangeable.
//!
//! An entry is kept until the token's `exp` plus [`crate::auth::MAX_LEEWAY`]: a token verifies
//! until `exp + leeway`, so an entry that ended at `exp` would let a revoked token back in for
//! the leeway. When the store cannot answer, [`RevocationFailure`] decides (default: refuse
//! with 503), and the store is not asked again for a second, so that each request does not
//! wait out the store's timeout.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{MemoryRevocations, Revocations, revocation_key};
//! # tokio_test_block_on(async {
//! let list = MemoryRevocations::default();
//! list.revoke(&revocation_key("https://idp.example", "token-1"), u64::MAX).await.unwrap();
//! assert!(list.is_revoked(&revocation_key("https://idp.example", "token-1")).await.unwrap());
//! assert!(!list.is_revoked(&revocation_key("https://other.example", "token-1")).await.unwrap());
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The entry of the token `jti` of `issuer` in a revocation list: the issuer's length, the
/// issuer, then the `jti` (unambiguous whatever either holds).
///
/// ```
/// use rampart::auth::revocation_key;
///
/// assert_eq!(revocation_key("https://idp.example", "t-1"), "19:https://idp.examplet-1");
/// assert_ne!(revocation_key("a#b", "c"), revocation_key("a", "b#c"));
/// ```
pub fn revocation_key(issuer: &str, jti: &str) -> String {
    format!("{}:{issuer}{jti}", issuer.len())
}

/// A boxed future, as returned by [`Revocations`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The revocation store could not answer. Authentication fails closed on it.
#[derive(Debug, thiserror::Error)]
#[error("revocation store unavailable: {0}")]
pub struct RevocationError(pub String);

/// How long after a token's `exp` its revocation is kept: the largest leeway any issuer may have.
pub(crate) const KEPT_AFTER_EXPIRY_SECS: u64 = super::claims::MAX_LEEWAY.as_secs();

/// What authentication does when the revocation store cannot answer
/// (`RAMPART_REVOCATION_FAILURE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RevocationFailure {
    /// Refuse the request with 503 and `Retry-After` (the token may be fine: it is not called
    /// invalid). The default: a revoked token is never let through.
    #[default]
    Closed,
    /// Accept the verified token unchecked, and count it (`rampart_rate_limit_fallbacks_total`
    /// with reason `revocation_open`) and log a warning.
    Open,
}

/// A list of revoked token ids.
pub trait Revocations: Send + Sync + 'static {
    /// Whether the token with this `jti` was revoked.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationError>>;
    /// Revokes `jti`, whose token expires at `expires_at` (Unix seconds); the entry is kept
    /// `KEPT_AFTER_EXPIRY_SECS` (five minutes) longer, for the leeway.
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: u64) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// [`Revocations::is_revoked`] answered without waiting, by a list held in memory; `None`
    /// (the default) when the answer needs I/O. Authentication of a cached token then completes
    /// without suspending the request.
    fn is_revoked_now(&self, jti: &str) -> Option<Result<bool, RevocationError>> {
        let _ = jti;
        None
    }
}

/// Revocations kept in this process (lost on restart, not shared between instances).
/// Expired entries are dropped as new ones arrive, so memory stays bounded by live tokens.
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    revoked: Mutex<HashMap<String, u64>>,
    /// How many ids the map holds: while none, a check takes no lock.
    held: AtomicUsize,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl MemoryRevocations {
    fn check(&self, jti: &str) -> Result<bool, RevocationError> {
        if self.held.load(Ordering::Acquire) == 0 {
            return Ok(false);
        }
        let map = self.revoked.lock().map_err(|_| RevocationError("poisoned lock".into()))?;
        Ok(map.get(jti).is_some_and(|exp| exp.saturating_add(KEPT_AFTER_EXPIRY_SECS) >= now()))
    }
}

impl Revocations for MemoryRevocations {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(std::future::ready(self.check(jti)))
    }

    fn is_revoked_now(&self, jti: &str) -> Option<Result<bool, RevocationError>> {
        Some(self.check(jti))
    }

    fn revoke<'a>(&'a self, jti: &'a str, expires_at: u64) -> BoxFuture<'a, Result<(), RevocationError>> {
        let result = self.revoked.lock().map_err(|_| RevocationError("poisoned lock".into())).map(|mut map| {
            let now = now();
            map.retain(|_, exp| exp.saturating_add(KEPT_AFTER_EXPIRY_SECS) >= now);
            map.insert(jti.to_owned(), expires_at);
            self.held.store(map.len(), Ordering::Release);
        });
        Box::pin(std::future::ready(result))
    }
}
