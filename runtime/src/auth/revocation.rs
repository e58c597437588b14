//! Token revocation by `jti`.
//!
//! A verified token whose `jti` is on the list is refused. The list is a trait so that the Redis
//! backend (shared across instances) and the in-memory one are interchangeable.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{MemoryRevocations, Revocations};
//! # tokio_test_block_on(async {
//! let list = MemoryRevocations::default();
//! list.revoke("token-1", u64::MAX).await.unwrap();
//! assert!(list.is_revoked("token-1").await.unwrap());
//! assert!(!list.is_revoked("token-2").await.unwrap());
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

/// A boxed future, as returned by [`Revocations`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The revocation store could not answer. Authentication fails closed on it.
#[derive(Debug, thiserror::Error)]
#[error("revocation store unavailable: {0}")]
pub struct RevocationError(pub String);

/// A list of revoked token ids.
pub trait Revocations: Send + Sync + 'static {
    /// Whether the token with this `jti` was revoked.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationError>>;
    /// Revokes `jti` until `expires_at` (Unix seconds: after it the token is dead anyway).
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
        Ok(map.get(jti).is_some_and(|until| *until >= now()))
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
            map.retain(|_, until| *until >= now);
            map.insert(jti.to_owned(), expires_at);
            self.held.store(map.len(), Ordering::Release);
        });
        Box::pin(std::future::ready(result))
    }
}
