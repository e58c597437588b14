//! What the attributes' expansions call. Not a public API: names and signatures may change.
#![allow(clippy::result_large_err, reason = "a denial is a finished `Response`, returned as is by the expansion")]

use std::time::Duration;

use axum::http::request::Parts;

pub use axum::extract::{FromRequest, FromRequestParts, Request, State};
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::{MethodFilter, MethodRouter, on};

use crate::audit::{AuditEvent, Decision};
use crate::auth::{AuthMethod, Principal};
use crate::context::RequestContext;
use crate::endpoint::{Access, EndpointInfo, RateKey};
use crate::error::Error;
use crate::rate::RateDecision;
use crate::security;

/// The marker of handlers without arguments (nothing to infer).
#[derive(Debug)]
pub enum NoArguments {}

/// Authentication, authorization, then the rate limit, before any extractor touches the body.
///
/// # Errors
///
/// The 401, 403, 429 (or 500 when the security layer is missing) response, audited.
pub async fn guard_secure(
    parts: &mut Parts,
    info: &'static EndpointInfo,
) -> Result<(Principal, Option<RateDecision>), Response> {
    let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
    let principal = security.authenticate(parts).await.map_err(IntoResponse::into_response)?;
    let Access::Secured(policy) = &info.access else {
        return Err(Error::Internal("a public endpoint reached the secure guard".into()).into_response());
    };
    security.authorize(parts, &principal, policy).map_err(IntoResponse::into_response)?;
    let decision = limit(&security, parts, info, Some(&principal))?;
    Ok((principal, decision))
}

/// The rate limit of a public endpoint (keyed by client IP).
///
/// # Errors
///
/// The 429 response, audited.
pub async fn guard_public(parts: &mut Parts, info: &'static EndpointInfo) -> Result<Option<RateDecision>, Response> {
    let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
    limit(&security, parts, info, None)
}

fn limit(
    security: &crate::Security,
    parts: &Parts,
    info: &'static EndpointInfo,
    principal: Option<&Principal>,
) -> Result<Option<RateDecision>, Response> {
    let Some(spec) = &info.rate else { return Ok(None) };
    let ctx = RequestContext::from_parts(parts);
    let key = match (spec.key, principal) {
        (RateKey::Ip, _) | (_, None) => format!("ip:{}", ctx.client_ip),
        (RateKey::Subject, Some(p)) => format!("sub:{}", p.subject()),
        (RateKey::Client, Some(p)) => format!("client:{}", p.client_id().unwrap_or(p.subject())),
        (RateKey::ApiKey, Some(p)) if p.method() == AuthMethod::ApiKey => format!("key:{}", p.subject()),
        (RateKey::ApiKey, Some(p)) => format!("sub:{}", p.subject()),
    };
    let route = format!("{} {}", info.method.as_str(), info.path);
    match security.rate_limits().check(&route, spec, &key) {
        Ok(decision) => Ok(Some(decision)),
        Err((decision, wait)) => {
            let mut event = AuditEvent::new(&ctx, Decision::Deny, "rate_limited", 429);
            if let Some(p) = principal {
                event = event.subject(p.subject());
            }
            event.emit();
            let mut response = Error::RateLimited { retry_after: wait.max(Duration::from_secs(1)) }.into_response();
            decision.write_headers(response.headers_mut());
            Err(response)
        }
    }
}

/// Converts an extractor's rejection (problem+json for Rampart's, normalized later for axum's).
pub fn rejection<R: IntoResponse>(rejection: R) -> Response {
    rejection.into_response()
}

/// Adds the RateLimit headers of an allowed request to the handler's response.
pub fn finish(decision: Option<&RateDecision>, mut response: Response) -> Response {
    if let Some(decision) = decision {
        decision.write_headers(response.headers_mut());
    }
    response
}
