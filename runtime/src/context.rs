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

/// The request id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What [`RequestContextLayer`] stores in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The request id.
    pub request_id: Arc<str>,
    /// The client, per the trusted-proxy rules.
    pub client_ip: IpAddr,
}

impl RequestMeta {
    /// The request's meta: from the security layer, else from [`RequestContextLayer`].
    pub(crate) fn of(extensions: &axum::http::Extensions) -> Option<&RequestMeta> {
        match extensions.get::<crate::stack::RequestScope>() {
            Some(scope) => Some(&scope.meta),
            None => extensions.get::<RequestMeta>(),
        }
    }

    /// The client IP of a request: from the layers, else the socket peer.
    pub(crate) fn client_ip_of(parts: &axum::http::request::Parts) -> IpAddr {
        RequestMeta::of(&parts.extensions).map_or_else(|| peer_ip(&parts.extensions), |meta| meta.client_ip)
    }
}

/// Who asked what: the fields every audit event carries.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id.
    pub request_id: Arc<str>,
    /// The method.
    pub method: Method,
    /// The route template (`/notes/{id}`), never the raw path or query.
    pub route: Arc<str>,
    /// The client IP.
    pub client_ip: IpAddr,
}

impl Default for RequestContext {
    fn default() -> Self {
        Self {
            request_id: Arc::from("-"),
            method: Method::GET,
            route: Arc::from("unmatched"),
            client_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

impl RequestContext {
    /// Reads the context of a request (usable without the layer: then the id is `-` and the IP is
    /// the socket peer, if axum was served with `ConnectInfo`).
    pub fn from_parts(parts: &Parts) -> Self {
        let route =
            parts.extensions.get::<MatchedPath>().map_or_else(|| Arc::from("unmatched"), |p| Arc::from(p.as_str()));
        let (request_id, client_ip) = match RequestMeta::of(&parts.extensions) {
            Some(meta) => (Arc::clone(&meta.request_id), meta.client_ip),
            None => (Arc::from("-"), peer_ip(&parts.extensions)),
        };
        Self { request_id, method: parts.method.clone(), route, client_ip }
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

pub(crate) fn acceptable_request_id(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let ok = (1..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then_some(text)
}

/// 96 random bits as 24 lowercase hex digits, without formatting machinery (it runs on every
/// request).
pub(crate) fn generate_request_id() -> Arc<str> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let mut text = [0u8; 24];
    for (i, byte) in bytes.iter().enumerate() {
        text[2 * i] = HEX[usize::from(byte >> 4)];
        text[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
    }
    std::str::from_utf8(&text).map_or_else(|_| Arc::from("-"), Arc::from)
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

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let request_id: Arc<str> = match request.headers().get(&REQUEST_ID).and_then(acceptable_request_id) {
            Some(id) => Arc::from(id),
            None => generate_request_id(),
        };
        let peer = peer_ip(request.extensions());
        let client_ip = self.proxies.client_ip(peer, request.headers());
        let header = HeaderValue::from_str(&request_id).ok();
        request.extensions_mut().insert(RequestMeta { request_id, client_ip });
        ResponseFuture { inner: self.inner.call(request), request_id: header }
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
        assert_eq!(acceptable_request_id(&HeaderValue::from_static("abc-123")), Some("abc-123"));
        assert_eq!(acceptable_request_id(&HeaderValue::from_static("a b")), None);
        assert_eq!(acceptable_request_id(&HeaderValue::from_static("")), None);
        let long = "a".repeat(65);
        assert_eq!(acceptable_request_id(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(generate_request_id().len(), 24);
    }
}
