//! The rate-limit check of the guard: the quota key of a request, the check without waiting and
//! the full one (audited), and the `RateLimit` headers of an allowed response.

use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::audit::{AuditEvent, Decision};
use crate::auth::{AuthMethod, Principal};
use crate::context::RequestContext;
use crate::contract::{EndpointInfo, RateKey, RateSpec};
use crate::error::Error;
use crate::rate::{Checked, Degraded, QuotaKey, RateDecision};

/// The quota key of a request to `info` (`principal` is `None` on public endpoints).
pub(super) fn quota_key<'a>(parts: &Parts, spec: &RateSpec, principal: Option<&'a Principal>) -> QuotaKey<'a> {
    match (spec.key, principal) {
        (RateKey::Ip, _) | (_, None) => {
            QuotaKey::Ip(crate::client_ip::subscriber(crate::context::RequestMeta::client_ip_of(parts)))
        }
        (RateKey::Subject, Some(p)) => QuotaKey::Text(["sub:", p.qualified_subject(), "", ""]),
        (RateKey::Client, Some(p)) => match p.client_id() {
            Some(client) => QuotaKey::Text(["client:", p.issuer().unwrap_or_default(), "#", client]),
            None => QuotaKey::Text(["sub:", p.qualified_subject(), "", ""]),
        },
        (RateKey::ApiKey, Some(p)) if p.method() == AuthMethod::ApiKey => QuotaKey::Text(["key:", p.subject(), "", ""]),
        (RateKey::ApiKey, Some(p)) => QuotaKey::Text(["sub:", p.qualified_subject(), "", ""]),
    }
}

/// The rate limit of `info`, when it can be decided without waiting and allows the request
/// (`Some(None)`: no limit declared). `None`: take [`limit`], which decides every other case.
pub(super) fn limit_now(
    security: &crate::Security,
    parts: &Parts,
    info: &'static EndpointInfo,
    principal: Option<&Principal>,
) -> Option<Option<RateDecision>> {
    let Some(spec) = &info.rate else { return Some(None) };
    let key = quota_key(parts, spec, principal);
    match security.rate_limiter().check_now((info.method.as_str(), info.path), spec, &key)? {
        Checked::Allowed(decision) => Some(Some(decision)),
        _ => None,
    }
}

pub(super) async fn limit(
    security: &crate::Security,
    parts: &Parts,
    info: &'static EndpointInfo,
    principal: Option<&Principal>,
) -> Result<Option<RateDecision>, Response> {
    let Some(spec) = &info.rate else { return Ok(None) };
    let key = quota_key(parts, spec, principal);
    let limiter = security.rate_limiter();
    let (checked, degraded) = limiter.check_key((info.method.as_str(), info.path), spec, &key).await;
    // The audit context is built only for the events below, not on every allowed request.
    let audit = |decision: Decision, reason: &'static str, status: u16| {
        let ctx = RequestContext::from_parts(parts);
        let mut event = AuditEvent::new(&ctx, decision, reason, status);
        if let Some(p) = principal {
            event = event.principal(p);
        }
        event.emit();
    };
    if let Some(degraded) = degraded {
        crate::telemetry::record_fallback(degraded.reason());
    }
    if let Some(degraded) = degraded
        && limiter.should_audit_degraded()
    {
        let status = if degraded == Degraded::FailClosed { 503 } else { 200 };
        audit(Decision::Degraded, degraded.reason(), status);
    }
    match checked {
        Checked::Allowed(decision) => Ok(Some(decision)),
        Checked::AllowedUnchecked => Ok(None),
        Checked::Limited(decision, wait) => {
            audit(Decision::Deny, "rate_limited", 429);
            let mut response = Error::RateLimited { retry_after: wait.max(Duration::from_secs(1)) }.into_response();
            decision.write_headers(response.headers_mut());
            Err(response)
        }
        Checked::Full => {
            audit(Decision::Deny, "rate_limit_capacity", 429);
            Err(Error::RateLimited { retry_after: Duration::from_secs(1) }.into_response())
        }
        Checked::Unavailable => Err(Error::Unavailable.into_response()),
    }
}

/// Adds the RateLimit headers of an allowed request to the handler's response (`policy` is the
/// route's constant `RateLimit-Policy`, computed once).
pub(super) fn finish(
    decision: Option<&RateDecision>,
    policy: Option<&HeaderValue>,
    mut response: Response,
) -> Response {
    if let (Some(decision), Some(policy)) = (decision, policy)
        && let Some(state) = decision.state_value()
    {
        let headers = response.headers_mut();
        // Room for these and the headers the outer layer adds: one growth, not several.
        headers.reserve(2 + crate::headers::ADDED_BY_STACK);
        crate::rate::insert_headers(headers, policy.clone(), state);
    }
    response
}
