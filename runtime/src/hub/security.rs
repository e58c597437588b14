//! The security hub: one value that holds the authenticator and the request-level settings, puts
//! itself where extractors find it, and applies the secure layers to a router.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::auth::{Algorithm, Authenticator, Issuer, JwtVerifier, Principal, VerificationKey};
//! use rampart::Security;
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! let key = VerificationKey::from_secret(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
//! let issuer = Issuer::builder("rampart-dev", ["notes"]).key(key).build().unwrap();
//! let authenticator = Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).build().unwrap();
//! let security = Security::new(authenticator);
//! let app: Router = security.apply(Router::new().route("/whoami", get(whoami)));
//! ```

use std::sync::Arc;

use axum::http::request::Parts;

use crate::audit::{AuditEvent, Decision};
use crate::auth::{AuthError, Authenticator, Principal};
use crate::authz::Policy;
use crate::client_ip::TrustedProxies;
use crate::context::RequestScope;
use crate::context::{RequestContext, RequestMeta};
use crate::contract::{Accepts, EndpointInfo};
use crate::error::{Error, Unauthenticated};
use crate::lockout::{Failure, Lockout, LockoutKey, VerificationBudget};
use crate::rate::RateLimiter;
use crate::relations::Relations;
use crate::timeout::Timeouts;

/// How often recovered rate-limit keys are dropped from memory.
const CLEANUP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The security hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Security(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    authenticator: Authenticator,
    rate_limiter: Arc<RateLimiter>,
    trusted_proxies: TrustedProxies,
    hsts: bool,
    lockout: Option<Arc<Lockout>>,
    /// What locked IPs may still spend on asymmetric verifications.
    budget: VerificationBudget,
    timeouts: Timeouts,
    relations: Option<Arc<dyn Relations>>,
}

/// Builds a [`Security`] hub.
#[derive(Debug)]
pub struct SecurityBuilder {
    inner: Inner,
}

impl SecurityBuilder {
    /// Believes forwarding headers from these proxies (default: none).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.inner.trusted_proxies = proxies;
        self
    }

    /// Uses this rate limiter (default: in memory, this process only).
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.inner.rate_limiter = Arc::new(limiter);
        self
    }

    /// Locks out client IPs and subjects after repeated failures (default: no lockout).
    pub fn lockout(mut self, lockout: Lockout) -> Self {
        self.inner.lockout = Some(Arc::new(lockout));
        self
    }

    /// The body and handler deadlines of every endpoint (default [`Timeouts::default`]: 30 s each).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.inner.timeouts = timeouts;
        self
    }

    /// Keeps relation tuples in `store`: routes declared with `relation = "..."` check them
    /// (default: none, and such routes answer 500 until one is given).
    pub fn relations(mut self, store: impl Relations) -> Self {
        self.inner.relations = Some(Arc::new(store));
        self
    }

    /// Declares that the service is reached over TLS (turns HSTS on).
    pub fn tls(mut self, on: bool) -> Self {
        self.inner.hsts = on;
        self
    }

    /// The hub. Inside a Tokio runtime, starts the periodic cleanup of the in-memory rate-limit
    /// keys (every minute).
    pub fn build(self) -> Security {
        self.inner.rate_limiter.spawn_cleanup(CLEANUP_EVERY);
        Security(Arc::new(self.inner))
    }
}

impl Security {
    /// A hub around `authenticator`, with no trusted proxy and no HSTS.
    pub fn new(authenticator: Authenticator) -> Self {
        Self::builder(authenticator).build()
    }

    /// A builder for a hub around `authenticator`.
    pub fn builder(authenticator: Authenticator) -> SecurityBuilder {
        SecurityBuilder {
            inner: Inner {
                authenticator,
                rate_limiter: Arc::new(RateLimiter::default()),
                trusted_proxies: TrustedProxies::none(),
                hsts: false,
                lockout: None,
                budget: VerificationBudget::default(),
                timeouts: Timeouts::default(),
                relations: None,
            },
        }
    }

    /// The rate limiter.
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.0.rate_limiter
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.0.authenticator
    }

    /// The lockout of guessed credentials, when one is configured (the token endpoint counts
    /// wrong client secrets in it too).
    pub fn lockout(&self) -> Option<&Arc<Lockout>> {
        self.0.lockout.as_ref()
    }

    /// The relations store, when one is configured.
    pub fn relations(&self) -> Option<&Arc<dyn Relations>> {
        self.0.relations.as_ref()
    }

    pub(crate) fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.trusted_proxies
    }

    pub(crate) fn hsts(&self) -> bool {
        self.0.hsts
    }

    /// The body and handler deadlines.
    pub fn timeouts(&self) -> Timeouts {
        self.0.timeouts
    }

    /// Authenticates the request, once: the principal is kept in the request's extensions, so
    /// several extractors share one verification. A failure is audited.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] (401); [`Error::RateLimited`] (429) for a guessed credential
    /// from a locked-out IP, or when a locked IP has spent its verification budget.
    ///
    /// # Security
    ///
    /// A credential that verifies is served whatever the lockout says of its IP; a validly signed
    /// token refused for its claims (expired, say) is 401 and never counted. See [`crate::lockout`].
    pub async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, Error> {
        if let Some(principal) = verified(parts) {
            return Ok(principal.clone());
        }
        let client_ip = RequestMeta::of(&parts.extensions).map(|meta| LockoutKey::ip(meta.client_ip));
        let lockout = self.0.lockout.as_deref().zip(client_ip);
        // Read once: the budget of a locked IP and the count of an abandoned check both ask it.
        let costly = lockout.is_some() && self.0.authenticator.would_cost_a_check(&parts.headers);
        // A locked IP may still present good credentials, but what it can make the server spend
        // on asymmetric signature checks and introspection round trips of new tokens is bounded.
        if let Some((lockout, ip)) = &lockout
            && costly
            && lockout.locked(ip).await.is_some()
            && let LockoutKey::Ip(addr) = ip
            && !self.0.budget.take(*addr)
        {
            let ctx = RequestContext::from_parts(parts);
            AuditEvent::new(&ctx, Decision::Deny, "locked_out_verification_budget", 429).emit();
            return Err(Error::RateLimited { retry_after: std::time::Duration::from_secs(1) });
        }
        let path = parts.uri.path_and_query().map_or("/", axum::http::uri::PathAndQuery::as_str);
        // A costly check (an introspection round trip, an asymmetric signature) that its request
        // abandons still counts against the address, as a guess would: cancelling is no way
        // around the lockout.
        let abandoned = match (&self.0.lockout, &lockout) {
            (Some(shared), Some((_, LockoutKey::Ip(addr)))) if costly => Some((Arc::clone(shared), *addr)),
            _ => None,
        };
        let check = AbandonedCheck(abandoned);
        let outcome = self.0.authenticator.authenticate_request(&parts.headers, parts.method.as_str(), path).await;
        check.answered();
        match outcome {
            Ok(principal) => {
                if let Some(scope) = parts.extensions.get_mut::<RequestScope>() {
                    scope.verified = Some(principal.clone());
                }
                Ok(principal)
            }
            Err(
                reason @ (AuthError::RevocationUnavailable
                | AuthError::IntrospectionUnavailable
                | AuthError::ReplayCheckUnavailable),
            ) => {
                // The token may be fine: refusing it as invalid would make clients throw it away.
                let ctx = RequestContext::from_parts(parts);
                AuditEvent::new(&ctx, Decision::Deny, reason.audit_reason(), 503).emit();
                Err(Error::Unavailable)
            }
            Err(reason) => {
                let ctx = RequestContext::from_parts(parts);
                // Only guesses count, and only they are refused by a lock.
                if let Some((lockout, ip)) = &lockout
                    && reason.is_guess()
                {
                    match lockout.failure(ip).await {
                        Failure::AlreadyLocked(left) => {
                            AuditEvent::new(&ctx, Decision::Deny, "locked_out", 429).emit();
                            return Err(Error::RateLimited { retry_after: left });
                        }
                        Failure::Locked(_) => {
                            AuditEvent::new(&ctx, Decision::Deny, reason.audit_reason(), 401).emit();
                            AuditEvent::new(&ctx, Decision::Lockout, "authentication_failures", 429).emit();
                        }
                        Failure::Counted => {
                            AuditEvent::new(&ctx, Decision::Deny, reason.audit_reason(), 401).emit();
                        }
                    }
                } else {
                    AuditEvent::new(&ctx, Decision::Deny, reason.audit_reason(), 401).emit();
                }
                Err(self.unauthenticated(reason))
            }
        }
    }

    /// The 401 of `reason`; a DPoP challenge carries a fresh nonce where proofs need one.
    fn unauthenticated(&self, reason: AuthError) -> Error {
        let nonce = if reason.concerns_dpop() { self.0.authenticator.dpop_nonce() } else { None };
        let realm = Arc::clone(self.0.authenticator.realm());
        Error::Unauthenticated(Unauthenticated::new(reason, realm).with_dpop_nonce(nonce))
    }

    /// The fast path of [`Security::authenticate`]: the principal when the request is already
    /// verified, or carries a cached token and the revocation check answers from memory and
    /// allows it. `None` means: take [`Security::authenticate`], which decides every other case
    /// and audits failures. Records nothing and changes nothing. A cached token is served
    /// whatever the lockout says of the client's IP: only failing credentials are refused there.
    pub(crate) fn authenticate_now(&self, parts: &Parts) -> Option<Principal> {
        if let Some(principal) = verified(parts) {
            return Some(principal.clone());
        }
        self.0.authenticator.authenticate_cached(&parts.headers)
    }

    /// Whether `principal` is free of a subject lock, answered from memory; `None` when the
    /// answer needs a round trip (then [`Security::check_subject_lock`] decides).
    pub(crate) fn subject_unlocked_now(&self, principal: &Principal) -> Option<bool> {
        let Some(lockout) = &self.0.lockout else { return Some(true) };
        Some(lockout.locked_now(&LockoutKey::Subject(principal.qualified_subject()))?.is_none())
    }

    /// Refuses a locked-out subject (429) before its request is authorized.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] with the time left on the lock.
    pub(crate) async fn check_subject_lock(&self, parts: &Parts, principal: &Principal) -> Result<(), Error> {
        let Some(lockout) = &self.0.lockout else { return Ok(()) };
        if let Some(left) = lockout.locked(&LockoutKey::Subject(principal.qualified_subject())).await {
            let ctx = RequestContext::from_parts(parts);
            AuditEvent::new(&ctx, Decision::Deny, "locked_out", 429).principal(principal).emit();
            return Err(Error::RateLimited { retry_after: left });
        }
        Ok(())
    }

    /// Counts an authorization failure of `principal`; audits the lock it may set.
    pub(crate) async fn authorization_failed(&self, parts: &Parts, principal: &Principal) {
        let Some(lockout) = &self.0.lockout else { return };
        if let Failure::Locked(_) = lockout.failure(&LockoutKey::Subject(principal.qualified_subject())).await {
            let ctx = RequestContext::from_parts(parts);
            AuditEvent::new(&ctx, Decision::Lockout, "authorization_failures", 429).principal(principal).emit();
        }
    }

    /// `principal` must have come with a credential the route accepts (`auth = [...]`,
    /// `dpop = "required"`); a refusal is audited and challenges in the schemes the route and the
    /// service both accept.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] (401): for a DPoP-only route, the DPoP challenge; else one
    /// challenge per accepted scheme.
    pub fn require_credential(&self, parts: &Parts, principal: &Principal, accepts: Accepts) -> Result<(), Error> {
        if accepts.admits(principal.credential()) {
            return Ok(());
        }
        let reason = if accepts.dpop_only() {
            AuthError::DpopRequired
        } else {
            let service = self.0.authenticator.accepts();
            AuthError::NotAccepted(Accepts {
                bearer: accepts.bearer && service.bearer,
                dpop: accepts.dpop && service.dpop,
                api_key: accepts.api_key && service.api_key,
            })
        };
        let ctx = RequestContext::from_parts(parts);
        AuditEvent::new(&ctx, Decision::Deny, reason.audit_reason(), 401).principal(principal).emit();
        Err(self.unauthenticated(reason))
    }

    /// Evaluates `policy` for `principal`; a denial is audited.
    ///
    /// # Errors
    ///
    /// [`Error::InsufficientScope`] (403) naming the missing scopes; when every scope is there
    /// and a role is missing, [`Error::InsufficientRole`] (403) naming the roles.
    pub fn authorize(&self, parts: &Parts, principal: &Principal, policy: &Policy) -> Result<(), Error> {
        policy.check(principal).map_err(|denied| {
            let error = if denied.missing_scopes.is_empty() && !denied.missing_roles.is_empty() {
                Error::InsufficientRole { required: denied.missing_roles }
            } else {
                Error::InsufficientScope { required: denied.missing_scopes }
            };
            let ctx = RequestContext::from_parts(parts);
            AuditEvent::new(&ctx, Decision::Deny, error.reason(), 403).principal(principal).emit();
            error
        })
    }
}

/// What the layer makes available to every request: the hub, and for a [`crate::Router`] its
/// inventory and serialized OpenAPI document.
#[derive(Debug)]
pub(crate) struct Installed {
    pub(crate) security: Security,
    pub(crate) inventory: Option<Inventory>,
    pub(crate) document: Option<Arc<[u8]>>,
}

/// The endpoints of a finished router: an extractor for handlers of a [`crate::Router::secured`] router
/// (documentation endpoints, tests).
#[derive(Debug, Clone)]
pub struct Inventory(pub Arc<[&'static EndpointInfo]>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Inventory {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let installed = installed(parts)?;
        installed
            .inventory
            .clone()
            .ok_or_else(|| crate::Error::Internal("no inventory: the router was not built with Router::secured".into()))
    }
}
/// Finds the hub installed by [`Security::apply`].
///
/// # Errors
///
/// [`Error::Internal`] when the router was not wrapped: deny, never skip the check.
pub(crate) fn from_parts(parts: &Parts) -> Result<Security, Error> {
    installed(parts).map(|installed| installed.security.clone())
}

/// What the security layer installed on this request.
///
/// # Errors
///
/// [`Error::Internal`] when the router was not wrapped.
pub(crate) fn installed(parts: &Parts) -> Result<&Installed, Error> {
    let scope = parts.extensions.get::<RequestScope>();
    scope.and_then(|scope| scope.installed.downcast_ref::<Installed>()).ok_or_else(|| {
        Error::Internal("rampart::Security is not installed: wrap the router with Security::apply".into())
    })
}

/// The principal [`Security::authenticate`] verified for this request, if it ran.
pub(crate) fn verified(parts: &Parts) -> Option<&Principal> {
    parts.extensions.get::<RequestScope>().and_then(|scope| scope.verified.as_ref())
}

/// A costly credential check under way for a client address: dropped before it is answered (its
/// request cancelled: a client gone, an HTTP/2 reset), it counts one failure for the address.
struct AbandonedCheck(Option<(Arc<Lockout>, std::net::IpAddr)>);

impl AbandonedCheck {
    /// The check was answered: the outcome decides what counts.
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonedCheck {
    fn drop(&mut self) {
        if let Some((lockout, addr)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = lockout.failure(&LockoutKey::Ip(addr)).await;
            });
        }
    }
}
