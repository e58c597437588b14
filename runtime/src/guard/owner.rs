//! Ownership in plain axum code: [`check_owner`] audits a denial and answers 404. Endpoints
//! declared with `#[secure]` use `load = ...` and `owner = ...` instead, which cannot be forgotten
//! ([`crate::authz::Checked`]).

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
