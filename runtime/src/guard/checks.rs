//! The ordered checks of the [guard](super), declared once ([`checks`]), and the two ways of
//! running them: without waiting ([`check_now`]) and from the first check that must wait
//! ([`Waiting::resume`]).

use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::limit;
use crate::auth::Principal;
use crate::authz::Policy;
use crate::contract::{Access, EndpointInfo};
use crate::error::Error;
use crate::rate::RateDecision;
use crate::security::{self, Security};

/// One check of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The credential is verified; its principal is the caller.
    Authenticate,
    /// The caller is not locked out (repeated failed authorizations).
    SubjectLock,
    /// The endpoint's policy allows the caller.
    Authorize,
    /// The endpoint's rate limit has room for the request.
    RateLimit,
}

const SECURED: [Check; 4] = [Check::Authenticate, Check::SubjectLock, Check::Authorize, Check::RateLimit];
const PUBLIC: [Check; 1] = [Check::RateLimit];

/// The checks of an endpoint with `access`, in the order they run.
///
/// ```
/// use rampart::Access;
/// use rampart::authz::Policy;
/// use rampart::guard::{Check, checks};
///
/// let secured = Access::Secured(Policy::Scope("notes:read"));
/// assert_eq!(checks(&secured), [Check::Authenticate, Check::SubjectLock, Check::Authorize, Check::RateLimit]);
/// assert_eq!(checks(&Access::Public { reason: "probes" }), [Check::RateLimit]);
/// ```
pub fn checks(access: &Access) -> &'static [Check] {
    match access {
        Access::Secured(_) => &SECURED,
        Access::Public { .. } => &PUBLIC,
    }
}

/// What the checks passed so far have found.
#[derive(Debug, Default)]
struct Found {
    /// The caller, once authenticated.
    principal: Option<Principal>,
    /// The rate limit's state, once checked (`None` for endpoints without one).
    decision: Option<RateDecision>,
}

/// The guard, where it must wait: the checks from `next` on are still to run.
#[derive(Debug)]
pub(crate) struct Waiting {
    next: usize,
    found: Found,
}

/// Runs `info`'s checks without waiting. `Ok`: every check allowed the request (with the rate
/// decision, when the endpoint has a limit); `Err`: a check cannot allow it now, and the guard
/// goes on from there with [`Waiting::resume`].
pub(crate) fn check_now(parts: &mut Parts, info: &'static EndpointInfo) -> Result<Option<RateDecision>, Waiting> {
    let mut found = Found::default();
    let Ok(installed) = security::installed(parts) else {
        return Err(Waiting { next: 0, found });
    };
    let security = &installed.security;
    // The same lists as `checks`, each a constant the compiler unrolls.
    let passed = match &info.access {
        Access::Secured(_) => passes_now(&SECURED, security, parts, info, &mut found),
        Access::Public { .. } => passes_now(&PUBLIC, security, parts, info, &mut found),
    };
    match passed {
        Ok(()) => Ok(admit(parts, found)),
        Err(next) => Err(Waiting { next, found }),
    }
}

/// Asks each of `list` in turn; `Err`: the index of the first that cannot allow the request now.
#[inline(always)]
fn passes_now<const N: usize>(
    list: &[Check; N],
    security: &Security,
    parts: &Parts,
    info: &'static EndpointInfo,
    found: &mut Found,
) -> Result<(), usize> {
    for (index, check) in list.iter().enumerate() {
        if !check.passes_now(security, parts, info, found) {
            return Err(index);
        }
    }
    Ok(())
}

impl Waiting {
    /// Runs the remaining checks in full, in order.
    ///
    /// # Errors
    ///
    /// The first denial's response (401, 403, 429, 503; 500 when the security layer is missing),
    /// audited.
    pub(crate) async fn resume(
        mut self,
        parts: &mut Parts,
        info: &'static EndpointInfo,
    ) -> Result<Option<RateDecision>, Response> {
        let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
        for check in &checks(&info.access)[self.next..] {
            check.run(&security, parts, info, &mut self.found).await?;
        }
        Ok(admit(parts, self.found))
    }
}

/// The request passed every check: the principal goes where the extractors find it.
fn admit(parts: &mut Parts, found: Found) -> Option<RateDecision> {
    if let Some(principal) = found.principal
        && let Some(scope) = parts.extensions.get_mut::<crate::context::RequestScope>()
    {
        scope.verified = Some(principal);
    }
    found.decision
}

impl Check {
    /// Whether the check allows the request without waiting; `false` also when it cannot tell
    /// now, or would deny (then [`Check::run`] decides, answers and audits).
    #[inline(always)]
    fn passes_now(self, security: &Security, parts: &Parts, info: &'static EndpointInfo, found: &mut Found) -> bool {
        match self {
            // A credential the route does not accept is refused in full.
            Check::Authenticate => {
                match security.authenticate_now(parts).filter(|p| info.accepts.admits(p.credential())) {
                    Some(principal) => {
                        crate::telemetry::record_token_cache(true);
                        found.principal = Some(principal);
                        true
                    }
                    None => false,
                }
            }
            Check::SubjectLock => {
                found.principal.as_ref().and_then(|principal| security.subject_unlocked_now(principal)) == Some(true)
            }
            Check::Authorize => match (found.principal.as_ref(), policy(info)) {
                (Some(principal), Some(policy)) => policy.check(principal).is_ok(),
                _ => false,
            },
            Check::RateLimit => match limit::limit_now(security, parts, info, found.principal.as_ref()) {
                Some(decision) => {
                    found.decision = decision;
                    true
                }
                None => false,
            },
        }
    }

    /// Runs the check in full.
    async fn run(
        self,
        security: &Security,
        parts: &mut Parts,
        info: &'static EndpointInfo,
        found: &mut Found,
    ) -> Result<(), Response> {
        match self {
            Check::Authenticate => {
                let principal = security.authenticate(parts).await.map_err(IntoResponse::into_response)?;
                security.require_credential(parts, &principal, info.accepts).map_err(IntoResponse::into_response)?;
                found.principal = Some(principal);
            }
            Check::SubjectLock => {
                let principal = principal_for(self, found)?;
                security.check_subject_lock(parts, &principal).await.map_err(IntoResponse::into_response)?;
            }
            Check::Authorize => {
                let principal = principal_for(self, found)?;
                let Some(policy) = policy(info) else {
                    return Err(Error::Internal("a public endpoint reached authorization".into()).into_response());
                };
                if let Err(denied) = security.authorize(parts, &principal, policy) {
                    security.authorization_failed(parts, &principal).await;
                    return Err(denied.into_response());
                }
            }
            Check::RateLimit => {
                found.decision = limit::limit(security, parts, info, found.principal.as_ref()).await?;
            }
        }
        Ok(())
    }
}

/// The principal the checks before `check` found.
fn principal_for(check: Check, found: &Found) -> Result<Principal, Response> {
    found.principal.clone().ok_or_else(|| {
        Error::Internal(format!("the guard reached {check:?} without a principal").into()).into_response()
    })
}

/// The policy of a secured endpoint.
fn policy(info: &EndpointInfo) -> Option<&Policy> {
    match &info.access {
        Access::Secured(policy) => Some(policy),
        Access::Public { .. } => None,
    }
}
