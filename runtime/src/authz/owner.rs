//! The resource-ownership hook.

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
    AuditEvent::new(ctx, Decision::Deny, "not_owner", 404).subject(principal.subject()).emit();
    Err(Error::NotFound)
}

/// The ownership check of an endpoint declared with `#[secure(owner = path::to_fn)]`: built by the
/// attribute with the caller and the declared function, used by the handler once the resource is
/// loaded (`check.allow(&note)?`). A denial is audited and answers 404.
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
    /// Used by the attribute's expansion; the signature of `allow` is checked by rustc.
    pub fn new(principal: Principal, ctx: RequestContext, allow: fn(&Principal, &R) -> bool) -> Self {
        Self { principal, ctx, allow }
    }

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
