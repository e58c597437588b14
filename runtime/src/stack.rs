//! The one layer [`crate::Security::apply`] and [`crate::Router::secured`] put around a router.
//!
//! It does in one service, with one hand-written future (no boxing, no `async` block), what four
//! layers did: it assigns the request id and resolves the client IP ([`crate::context`]); it
//! makes the hub (and the router's inventory and document) available to extractors as one
//! extension; and on the way out it turns plain-text error responses into problem+json
//! ([`crate::error::problem_for_plain_response`]), sets the secure headers
//! ([`crate::headers`]) and echoes the request id. A handler that panics is answered 500
//! problem+json rather than left without an answer. axum boxes every layer of a router per
//! route and clones the box on every request, so fewer layers is measurably faster.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderValue, Request};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::Security;
use crate::auth::Principal;
use crate::context::{REQUEST_ID, RequestMeta};
use crate::endpoint::Inventory;

/// What the layer puts in each request's extensions, as one value (each extension costs an
/// allocation): the request's id and client, what is installed, and the principal once verified.
#[derive(Debug, Clone)]
pub(crate) struct RequestScope {
    pub(crate) meta: RequestMeta,
    pub(crate) installed: Arc<Installed>,
    /// Set by [`crate::Security::authenticate`] only: nothing else can pass for a verified
    /// caller (the type is private to the crate).
    pub(crate) verified: Option<Principal>,
}

/// What the layer makes available to every request: the hub, and for a [`crate::Router`] its
/// inventory and serialized OpenAPI document.
#[derive(Debug)]
pub(crate) struct Installed {
    pub(crate) security: Security,
    pub(crate) inventory: Option<Inventory>,
    pub(crate) document: Option<Arc<[u8]>>,
}

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct StackLayer {
    installed: Arc<Installed>,
}

impl StackLayer {
    pub(crate) fn new(installed: Installed) -> Self {
        Self { installed: Arc::new(installed) }
    }
}

impl<S> Layer<S> for StackLayer {
    type Service = Stack<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Stack { inner, installed: Arc::clone(&self.installed) }
    }
}

/// The service of [`StackLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Stack<S> {
    inner: S,
    installed: Arc<Installed>,
}

impl<S, B> Service<Request<B>> for Stack<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = StackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let meta = RequestMeta::assign(&request, self.installed.security.trusted_proxies());
        let header = Some(meta.request_id.clone());
        let hsts = self.installed.security.hsts();
        let timed = crate::metrics::timing(request.method());
        request.extensions_mut().insert(RequestScope { meta, installed: Arc::clone(&self.installed), verified: None });
        StackFuture { inner: self.inner.call(request), request_id: header, hsts, timed }
    }
}

pin_project! {
    /// The response future of [`Stack`].
    pub(crate) struct StackFuture<F> {
        #[pin]
        inner: F,
        request_id: Option<HeaderValue>,
        hsts: bool,
        timed: Option<crate::metrics::Timing>,
    }
}

impl<F, E> Future for StackFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // A handler that panics gets a 500 problem+json with the usual headers, instead of a
        // connection dropped without an answer. The inner future is never polled again.
        let inner = this.inner;
        let response = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result?,
            Err(_) => {
                tracing::error!(target: "rampart::panic", "a handler panicked; the request was answered 500");
                axum::response::IntoResponse::into_response(crate::Error::Internal("a handler panicked".into()))
            }
        };
        let mut response = crate::error::problem_for_plain_response(response);
        crate::headers::apply(response.headers_mut(), *this.hsts);
        if let Some(id) = this.request_id.take() {
            response.headers_mut().insert(REQUEST_ID.clone(), id);
        }
        if let Some(timing) = this.timed.take() {
            timing.finish(&response);
        }
        Poll::Ready(Ok(response))
    }
}
