//! Per-request context for audit events: request id, method, route template, client IP.
//!
//! [`RequestContextLayer`] runs first on every request. It keeps an incoming `X-Request-Id` only
//! when it is short and plain (1 to 64 of `A-Z a-z 0-9 . _ : -`), otherwise generates one; it
//! resolves the client IP with the [`TrustedProxies`] rules, and echoes the id on the response.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::context::RequestContextLayer;
//! use rampart::client_ip::TrustedProxies;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "ok" }))
//!     .layer(RequestContextLayer::new(TrustedProxies::none()));
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use rand::RngCore as _;
use tower::{Layer, Service};

use crate::client_ip::TrustedProxies;
pub use crate::vocabulary::request::RequestContext;

/// The request id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the security layer puts in each request's extensions, as one value (each extension costs
/// an allocation): the request's id and client, what is installed (the hub's
/// [`crate::security`] installation, opaque to this layer), and the principal once verified.
#[derive(Debug, Clone)]
pub(crate) struct RequestScope {
    pub(crate) meta: RequestMeta,
    pub(crate) installed: Arc<dyn std::any::Any + Send + Sync>,
    /// Set by [`crate::Security::authenticate`] only: nothing else can pass for a verified
    /// caller (the type is private to the crate).
    pub(crate) verified: Option<crate::auth::Principal>,
}

/// What [`RequestContextLayer`] stores in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The request id, as echoed in `X-Request-Id` (visible ASCII, at most 64 bytes).
    pub request_id: HeaderValue,
    /// The client, per the trusted-proxy rules.
    pub client_ip: IpAddr,
}

impl RequestMeta {
    /// The id (the client's `X-Request-Id` if plain enough, else a fresh one) and the client IP
    /// (per `proxies`) of an incoming request.
    pub(crate) fn assign(parts: &Parts, proxies: &TrustedProxies) -> Self {
        let request_id = match parts.headers.get(&REQUEST_ID).and_then(acceptable_request_id) {
            Some(id) => id.clone(),
            None => generate_request_id(),
        };
        let client_ip = proxies.client_ip(peer_ip(&parts.extensions), &parts.headers);
        Self { request_id, client_ip }
    }

    /// The request's meta: from the security layer, else from [`RequestContextLayer`].
    pub(crate) fn of(extensions: &axum::http::Extensions) -> Option<&RequestMeta> {
        match extensions.get::<RequestScope>() {
            Some(scope) => Some(&scope.meta),
            None => extensions.get::<RequestMeta>(),
        }
    }

    /// The client IP of a request: from the layers, else the socket peer.
    pub(crate) fn client_ip_of(parts: &axum::http::request::Parts) -> IpAddr {
        RequestMeta::of(&parts.extensions).map_or_else(|| peer_ip(&parts.extensions), |meta| meta.client_ip)
    }
}

impl RequestContext {
    /// Reads the context of a request (usable without the layer: then the id is `-` and the IP is
    /// the socket peer, if axum was served with `ConnectInfo`).
    pub fn from_parts(parts: &Parts) -> Self {
        let route =
            parts.extensions.get::<MatchedPath>().map_or_else(|| Arc::from("unmatched"), |p| Arc::from(p.as_str()));
        let (request_id, client_ip) = match RequestMeta::of(&parts.extensions) {
            Some(meta) => (id_text(&meta.request_id), meta.client_ip),
            None => (Arc::from("-"), peer_ip(&parts.extensions)),
        };
        Self { request_id, method: parts.method.clone(), route, client_ip }
    }
}

/// What a [`RequestContext`] is made of, captured with reference-count increments only, for code
/// that may need an audit context after the request is consumed but usually does not.
#[derive(Debug, Clone)]
pub(crate) struct ContextSeed {
    route: Option<MatchedPath>,
    meta: Option<RequestMeta>,
    peer: IpAddr,
    method: Method,
}

impl ContextSeed {
    pub(crate) fn capture(parts: &Parts) -> Self {
        Self {
            route: parts.extensions.get::<MatchedPath>().cloned(),
            meta: RequestMeta::of(&parts.extensions).cloned(),
            peer: peer_ip(&parts.extensions),
            method: parts.method.clone(),
        }
    }

    pub(crate) fn context(&self) -> RequestContext {
        let (request_id, client_ip) = match &self.meta {
            Some(meta) => (id_text(&meta.request_id), meta.client_ip),
            None => (Arc::from("-"), self.peer),
        };
        RequestContext {
            request_id,
            method: self.method.clone(),
            route: self.route.as_ref().map_or_else(|| Arc::from("unmatched"), |p| Arc::from(p.as_str())),
            client_ip,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

pub(crate) fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

/// The request id as text, for an audit event.
fn id_text(id: &HeaderValue) -> Arc<str> {
    id.to_str().map_or_else(|_| Arc::from("-"), Arc::from)
}

/// A client's `X-Request-Id`, if plain enough to be logged and echoed: 1 to 64 of
/// `A-Z a-z 0-9 . _ : -`.
pub(crate) fn acceptable_request_id(value: &HeaderValue) -> Option<&HeaderValue> {
    let bytes = value.as_bytes();
    let ok = (1..=64).contains(&bytes.len())
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then_some(value)
}

/// A fresh request id: 24 lowercase hex digits, a 48-bit random prefix drawn once per process and
/// a 48-bit counter. Unique per process and, with overwhelming odds, across instances; no random
/// number is drawn per request (this runs on every request). Ids are for correlation, not secrets.
pub(crate) fn generate_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = *PREFIX.get_or_init(|| rand::rng().next_u64());
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut text = [0u8; 24];
    for (i, digit) in text.iter_mut().enumerate() {
        let (word, shift) = if i < 12 { (prefix, 44 - 4 * i) } else { (count, 44 - 4 * (i - 12)) };
        *digit = HEX[usize::try_from((word >> shift) & 0xf).unwrap_or(0)];
    }
    // An owned `Bytes`: one allocation, and the clone for the response header is a reference
    // count (a copied slice would allocate again when first cloned).
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Assigns request ids and resolves client IPs. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct RequestContextLayer {
    proxies: Arc<TrustedProxies>,
}

impl RequestContextLayer {
    /// A layer that believes forwarding headers only from `proxies`.
    pub fn new(proxies: TrustedProxies) -> Self {
        Self { proxies: Arc::new(proxies) }
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContextService { inner, proxies: Arc::clone(&self.proxies) }
    }
}

/// The service of [`RequestContextLayer`].
#[derive(Debug, Clone)]
pub struct RequestContextService<S> {
    inner: S,
    proxies: Arc<TrustedProxies>,
}

impl<S, B, ResBody> Service<Request<B>> for RequestContextService<S>
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
        let (mut parts, body) = request.into_parts();
        let meta = RequestMeta::assign(&parts, &self.proxies);
        let request_id = meta.request_id.clone();
        parts.extensions.insert(meta);
        ResponseFuture { inner: self.inner.call(Request::from_parts(parts, body)), request_id: Some(request_id) }
    }
}

pin_project! {
    /// The response future of [`RequestContextService`]: echoes the request id.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request_id: Option<HeaderValue>,
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
        if let Some(id) = this.request_id.take() {
            response.headers_mut().insert(REQUEST_ID.clone(), id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_filtered() {
        assert_eq!(
            acceptable_request_id(&HeaderValue::from_static("abc-123")),
            Some(&HeaderValue::from_static("abc-123"))
        );
        assert_eq!(acceptable_request_id(&HeaderValue::from_static("a b")), None);
        assert_eq!(acceptable_request_id(&HeaderValue::from_static("")), None);
        let long = "a".repeat(65);
        assert_eq!(acceptable_request_id(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(generate_request_id().len(), 24);
    }
}
