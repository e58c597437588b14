//! Secure response headers on every response, errors and 404s included.
//!
//! Sets `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
//! `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'` (unless the
//! handler set its own, as the docs page does), `Cache-Control: no-store` (unless set), and
//! `Strict-Transport-Security` only when serving TLS. Removes `Server` and `X-Powered-By`.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::headers::SecureHeadersLayer;
//!
//! let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(SecureHeadersLayer::new());
//! let https: Router = Router::new().layer(SecureHeadersLayer::new().with_hsts(true));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SERVER, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// The API's Content-Security-Policy.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// HSTS: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

static X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// Sets the secure defaults. See the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct SecureHeadersLayer {
    hsts: bool,
}

impl SecureHeadersLayer {
    /// The defaults, without HSTS.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `Strict-Transport-Security` (only when the service is reached over TLS).
    pub fn with_hsts(mut self, on: bool) -> Self {
        self.hsts = on;
        self
    }
}

impl<S> Layer<S> for SecureHeadersLayer {
    type Service = SecureHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecureHeaders { inner, hsts: self.hsts }
    }
}

/// The service of [`SecureHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecureHeaders<S> {
    inner: S,
    hsts: bool,
}

impl<S, B, ResBody> Service<Request<B>> for SecureHeaders<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ResponseFuture { inner: self.inner.call(request), hsts: self.hsts }
    }
}

pin_project! {
    /// The response future of [`SecureHeaders`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        hsts: bool,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        apply(response.headers_mut(), *this.hsts);
        Poll::Ready(Ok(response))
    }
}

/// How many headers the security layer may add to a response: the five below, HSTS and the
/// request id. Reserved at once: one growth of the map rather than several.
pub(crate) const ADDED_BY_STACK: usize = 7;

pub(crate) fn apply(headers: &mut HeaderMap, hsts: bool) {
    headers.reserve(ADDED_BY_STACK);
    // One pass over the few headers the handler set tells which of the conditional ones are
    // there: a lookup per name would hash and probe even for the (usual) absent ones.
    let (mut csp, mut cache_control, mut sts, mut banner) = (false, false, false, false);
    for name in headers.keys() {
        if name == CONTENT_SECURITY_POLICY {
            csp = true;
        } else if name == CACHE_CONTROL {
            cache_control = true;
        } else if name == STRICT_TRANSPORT_SECURITY {
            sts = true;
        } else if name == SERVER || name == X_POWERED_BY {
            banner = true;
        }
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !csp {
        headers.append(CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CSP));
    }
    if !cache_control {
        headers.append(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    } else if sts {
        headers.remove(STRICT_TRANSPORT_SECURITY);
    }
    if banner {
        headers.remove(SERVER);
        headers.remove(&X_POWERED_BY);
    }
}

/// The headers of an allowed response whose handler set only its `Content-Type` (a JSON
/// answer, the usual case), built once per endpoint: what [`apply`], the request id and the
/// rate-limit headers would make of them. Cloning it and filling its three per-request values in
/// place costs a fraction of hashing eight names into the handler's map and growing it.
#[derive(Debug)]
pub(crate) struct ResponseTemplate {
    /// `Content-Type`, `X-Request-Id`, then (rate-limited endpoints) `RateLimit`, each with a
    /// placeholder value, in that order: [`ResponseTemplate::fill`] writes them by position.
    headers: HeaderMap,
    rated: bool,
}

impl ResponseTemplate {
    /// The template of an endpoint served with `hsts` or not, whose `RateLimit-Policy` is
    /// `policy` (`None`: the endpoint declares no limit).
    pub(crate) fn new(hsts: bool, policy: Option<&HeaderValue>) -> Self {
        let placeholder = HeaderValue::from_static("");
        let mut headers = HeaderMap::new();
        headers.append(CONTENT_TYPE, placeholder.clone());
        headers.append(crate::context::REQUEST_ID.clone(), placeholder.clone());
        if let Some(policy) = policy {
            headers.append(crate::rate::STATE_HEADER.clone(), placeholder);
            headers.append(crate::rate::POLICY_HEADER.clone(), policy.clone());
        }
        apply(&mut headers, hsts);
        Self { headers, rated: policy.is_some() }
    }

    /// Replaces `headers` (a handler's) by the template filled with their `Content-Type`, the
    /// request id and the rate state (`state` must be `Some` exactly when the endpoint is
    /// rate-limited). Gives the values back, leaving `headers` untouched, when the handler set
    /// anything but one `Content-Type`: then the caller applies the headers one by one.
    pub(crate) fn fill(
        &self,
        headers: &mut HeaderMap,
        request_id: HeaderValue,
        state: Option<HeaderValue>,
    ) -> Result<(), (HeaderValue, Option<HeaderValue>)> {
        let only_content_type = headers.len() == 1 && headers.keys().next() == Some(&CONTENT_TYPE);
        if !only_content_type || state.is_some() != self.rated {
            return Err((request_id, state));
        }
        let Some(content_type) =
            headers.values_mut().next().map(|v| std::mem::replace(v, HeaderValue::from_static("")))
        else {
            return Err((request_id, state));
        };
        *headers = self.headers.clone();
        let mut slots = headers.values_mut();
        let mut put = |value| {
            if let Some(slot) = slots.next() {
                *slot = value;
            }
        };
        put(content_type);
        put(request_id);
        if let Some(state) = state {
            put(state);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_headers_are_kept_replaced_or_removed_as_documented() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'"));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        headers.insert(SERVER, HeaderValue::from_static("nginx"));
        headers.insert(X_POWERED_BY.clone(), HeaderValue::from_static("php"));
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=1"));
        apply(&mut headers, false);
        assert_eq!(headers[CONTENT_SECURITY_POLICY], "default-src 'self'", "the handler's own CSP stays");
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        assert!(headers.get(SERVER).is_none() && headers.get(&X_POWERED_BY).is_none(), "no banner");
        assert!(headers.get(STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS without TLS");
        apply(&mut headers, true);
        assert_eq!(headers[STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(headers.get_all(CACHE_CONTROL).iter().count(), 1, "applied twice, still one of each");
    }

    fn listed(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
        let mut list: Vec<_> = headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect();
        list.sort();
        list
    }

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    #[test]
    fn a_filled_template_equals_the_headers_applied_one_by_one() {
        let policy = HeaderValue::from_static("\"default\";q=10;w=60");
        let state = HeaderValue::from_static("\"default\";r=9;t=6");
        let id = HeaderValue::from_static("0f3c");
        for hsts in [false, true] {
            for rated in [false, true] {
                let mut expected = json_headers();
                if rated {
                    expected.insert(crate::rate::POLICY_HEADER.clone(), policy.clone());
                    expected.insert(crate::rate::STATE_HEADER.clone(), state.clone());
                }
                apply(&mut expected, hsts);
                expected.insert(crate::context::REQUEST_ID.clone(), id.clone());

                let template = ResponseTemplate::new(hsts, rated.then_some(&policy));
                let mut filled = json_headers();
                assert!(template.fill(&mut filled, id.clone(), rated.then(|| state.clone())).is_ok());
                assert_eq!(listed(&filled), listed(&expected), "hsts {hsts}, rated {rated}");
            }
        }
    }

    #[test]
    fn a_template_refuses_any_other_handler_headers_and_leaves_them() {
        let template = ResponseTemplate::new(false, None);
        let id = HeaderValue::from_static("0f3c");
        let mut two = json_headers();
        two.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
        let mut other = HeaderMap::new();
        other.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'"));
        for mut headers in [two, other, HeaderMap::new()] {
            let before = listed(&headers);
            assert!(template.fill(&mut headers, id.clone(), None).is_err());
            assert_eq!(listed(&headers), before);
        }
        let mut json = json_headers();
        let state = Some(HeaderValue::from_static("\"default\";r=9;t=6"));
        assert!(template.fill(&mut json, id, state).is_err(), "a rate state for an endpoint without a limit");
        assert_eq!(listed(&json), listed(&json_headers()));
    }
}
