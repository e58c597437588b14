//! What the attributes' expansions call. Not a public API: names and signatures may change.
#![allow(clippy::result_large_err, reason = "a denial is a finished `Response`, returned as is by the expansion")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::request::Parts;

pub use axum::Extension;
pub use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::handler::Handler;
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;
use axum::routing::{MethodFilter, on};
use tower::{Layer, Service};

use crate::audit::{AuditEvent, Decision};
use crate::auth::{AuthMethod, Principal};
use crate::context::RequestContext;
use crate::endpoint::{Access, EndpointInfo, Method, RateKey};
use crate::error::Error;
use crate::rate::{Checked, Degraded, RateDecision};
use crate::security;

/// The marker of handlers without arguments (nothing to infer).
#[derive(Debug)]
pub enum NoArguments {}

/// Authentication, authorization, then the rate limit, before any extractor touches the body.
///
/// # Errors
///
/// The 401, 403, 429 (or 500 when the security layer is missing) response, audited.
async fn guard_secure(
    parts: &mut Parts,
    info: &'static EndpointInfo,
) -> Result<(Principal, Option<RateDecision>), Response> {
    let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
    let principal = security.authenticate(parts).await.map_err(IntoResponse::into_response)?;
    let Access::Secured(policy) = &info.access else {
        return Err(Error::Internal("a public endpoint reached the secure guard".into()).into_response());
    };
    security.check_subject_lock(parts, &principal).await.map_err(IntoResponse::into_response)?;
    if let Err(denied) = security.authorize(parts, &principal, policy) {
        security.authorization_failed(parts, &principal).await;
        return Err(denied.into_response());
    }
    let decision = limit(&security, parts, info, Some(&principal)).await?;
    Ok((principal, decision))
}

/// The rate limit of a public endpoint (keyed by client IP).
///
/// # Errors
///
/// The 429 response, audited.
async fn guard_public(parts: &mut Parts, info: &'static EndpointInfo) -> Result<Option<RateDecision>, Response> {
    let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
    limit(&security, parts, info, None).await
}

async fn limit(
    security: &crate::Security,
    parts: &Parts,
    info: &'static EndpointInfo,
    principal: Option<&Principal>,
) -> Result<Option<RateDecision>, Response> {
    let Some(spec) = &info.rate else { return Ok(None) };
    let joined = |prefix: &str, parts: &[&str]| {
        let mut key = String::with_capacity(prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        key.push_str(prefix);
        parts.iter().for_each(|p| key.push_str(p));
        key
    };
    let key = match (spec.key, principal) {
        (RateKey::Ip, _) | (_, None) => {
            let ip = crate::context::RequestMeta::client_ip_of(parts);
            format!("ip:{}", ip_bucket(ip))
        }
        (RateKey::Subject, Some(p)) => joined("sub:", &[p.qualified_subject()]),
        (RateKey::Client, Some(p)) => match p.client_id() {
            Some(client) => joined("client:", &[p.issuer().unwrap_or_default(), "#", client]),
            None => joined("sub:", &[p.qualified_subject()]),
        },
        (RateKey::ApiKey, Some(p)) if p.method() == AuthMethod::ApiKey => joined("key:", &[p.subject()]),
        (RateKey::ApiKey, Some(p)) => joined("sub:", &[p.qualified_subject()]),
    };
    let limiter = security.rate_limiter();
    let (checked, degraded) = limiter.check((info.method.as_str(), info.path), spec, &key).await;
    // The audit context is built only for the events below, not on every allowed request.
    let audit = |decision: Decision, reason: &'static str, status: u16| {
        let ctx = RequestContext::from_parts(parts);
        let mut event = AuditEvent::new(&ctx, decision, reason, status);
        if let Some(p) = principal {
            event = event.subject(p.subject());
        }
        event.emit();
    };
    if let Some(degraded) = degraded {
        crate::metrics::record_fallback(degraded.reason());
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

/// The rate-limit bucket of an address: IPv4 as is, IPv6 by its /64 (one subscriber's prefix), so
/// that an attacker cannot get 2^64 buckets from one allocation.
fn ip_bucket(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// Adds the RateLimit headers of an allowed request to the handler's response (`policy` is the
/// route's constant `RateLimit-Policy`, computed once).
fn finish(decision: Option<&RateDecision>, policy: Option<&HeaderValue>, mut response: Response) -> Response {
    if let (Some(decision), Some(policy)) = (decision, policy)
        && let Some(state) = decision.state_value()
    {
        let headers = response.headers_mut();
        // Room for these and the secure headers the outer layer adds: one growth, not several.
        headers.reserve(12);
        headers.insert(crate::rate::POLICY_HEADER.clone(), policy.clone());
        headers.insert(crate::rate::STATE_HEADER.clone(), state);
    }
    response
}

fn method_filter(method: Method) -> MethodFilter {
    match method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        Method::HEAD => MethodFilter::HEAD,
        Method::OPTIONS => MethodFilter::OPTIONS,
    }
}

/// The route of an endpoint: `handler` (with axum's own extraction) behind the [`Guard`] that
/// enforces `info` first. One generic function for every endpoint, so that the expansion itself
/// holds no async code to type- and borrow-check per handler.
pub fn endpoint_route<H, T, S>(info: &'static EndpointInfo, handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    on(method_filter(info.method), handler).layer(GuardLayer { info })
}

/// Runs authentication, authorization and the rate limit of an endpoint before its handler (and
/// so before any of the handler's extractors reads the request).
#[derive(Debug, Clone, Copy)]
pub struct GuardLayer {
    info: &'static EndpointInfo,
}

impl<I> Layer<I> for GuardLayer {
    type Service = Guard<<axum::extract::DefaultBodyLimit as Layer<I>>::Service>;

    /// The body limit is composed here rather than as a layer of its own on the route: axum
    /// boxes every route layer and clones the box on each request.
    fn layer(&self, inner: I) -> Self::Service {
        let policy = self.info.rate.as_ref().and_then(|spec| RateDecision::new(spec, 0).policy_value());
        Guard {
            inner: axum::extract::DefaultBodyLimit::max(self.info.body_limit).layer(inner),
            info: self.info,
            policy,
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<I> {
    inner: I,
    info: &'static EndpointInfo,
    /// The route's `RateLimit-Policy` value.
    policy: Option<HeaderValue>,
}

impl<I> Service<Request> for Guard<I>
where
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let info = self.info;
        let policy = self.policy.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let decision = match &info.access {
                Access::Secured(_) => guard_secure(&mut parts, info).await.map(|(_, decision)| decision),
                Access::Public { .. } => guard_public(&mut parts, info).await,
            };
            let mut response = match decision {
                Ok(decision) => {
                    let response = inner.call(Request::from_parts(parts, body)).await?;
                    finish(decision.as_ref(), policy.as_ref(), response)
                }
                Err(denied) => denied,
            };
            if crate::metrics::labels_routes() {
                response.extensions_mut().insert(crate::metrics::RouteLabel(info.path));
            }
            Ok(response)
        })
    }
}
