//! The resource-ownership hook.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::Error;
use crate::audit::{AuditEvent, Decision, RequestContext};
use crate::auth::Principal;

/// A resource with an owner (the subject that created it).
pub trait Owned {
    /// The owner's subject.
    fn owner(&self) -> &str;
}

/// Allows when `allow(principal, resource)` holds; otherwise audits the denial and answers 404.
///
/// # Examples
///
/// ```
/// use rampart::audit::RequestContext;
/// use rampart::auth::{ClaimMapping, Principal};
/// use rampart::authz::{Owned, check_owner};
///
/// struct Note { owner: String }
/// impl Owned for Note { fn owner(&self) -> &str { &self.owner } }
///
/// let alice = Principal::from_claims(serde_json::json!({"sub": "alice"}), &ClaimMapping::default()).unwrap();
/// let note = Note { owner: "bob".into() };
/// let ctx = RequestContext::default();
/// let is_owner_or_admin = |p: &Principal, n: &Note| p.subject() == n.owner() || p.has_role("admin");
/// assert!(check_owner(&ctx, &alice, &note, is_owner_or_admin).is_err());
/// ```
///
/// # Errors
///
/// [`Error::NotFound`] on denial, so that the resource's existence is not revealed.
pub fn check_owner<R: ?Sized>(
    ctx: &RequestContext,
    principal: &Principal,
    resource: &R,
    allow: impl FnOnce(&Principal, &R) -> bool,
) -> Result<(), Error> {
    if allow(principal, resource) {
        return Ok(());
    }
    AuditEvent::new(ctx, Decision::Deny, "not_owner", 404).principal(principal).emit();
    Err(Error::NotFound)
}

/// The ownership function declared by `#[secure(owner = path::to_fn)]`, carried to the handler's
/// [`OwnerCheck`] in the request's extensions.
pub struct OwnerFn<R: ?Sized>(fn(&Principal, &R) -> bool);

impl<R: ?Sized> OwnerFn<R> {
    /// Wraps the declared function; rustc checks its signature here.
    pub fn new(allow: fn(&Principal, &R) -> bool) -> Self {
        Self(allow)
    }
}

impl<R: ?Sized> Clone for OwnerFn<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: ?Sized> Copy for OwnerFn<R> {}

/// The ownership check of an endpoint declared with `#[secure(owner = path::to_fn)]`: an
/// extractor holding the caller and the declared function; the handler calls
/// `check.allow(&resource)?` once the resource is loaded. A denial is audited and answers 404.
pub struct OwnerCheck<R: ?Sized> {
    principal: Principal,
    ctx: RequestContext,
    allow: fn(&Principal, &R) -> bool,
}

impl<R: ?Sized> std::fmt::Debug for OwnerCheck<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerCheck").field("subject", &self.principal.subject()).finish_non_exhaustive()
    }
}

impl<R: ?Sized> OwnerCheck<R> {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Allows the request when the declared function accepts the caller for `resource`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] on denial (audited), so that the resource's existence is not revealed.
    pub fn allow(&self, resource: &R) -> Result<(), Error> {
        check_owner(&self.ctx, &self.principal, resource, self.allow)
    }
}

impl<S: Send + Sync, R: ?Sized + 'static> FromRequestParts<S> for OwnerCheck<R> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = crate::security::verified(parts)
            .cloned()
            .ok_or_else(|| Error::Internal("OwnerCheck used on an endpoint without authentication".into()))?;
        let OwnerFn(allow) = parts
            .extensions
            .get::<OwnerFn<R>>()
            .copied()
            .ok_or_else(|| Error::Internal("OwnerCheck used without `owner = ...` in #[secure]".into()))?;
        Ok(Self { principal, ctx: RequestContext::from_parts(parts), allow })
    }
}
