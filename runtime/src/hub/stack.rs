//! What the security layer does on the way in and out of every request ([`Passage`]), and the one
//! layer [`crate::Security::apply`] puts around a router to do it.
//!
//! On the way in it assigns the request id and resolves the client IP ([`crate::context`]) and
//! makes the hub (and the router's inventory and document) available to extractors as one
//! extension; on the way out it turns plain-text error responses into problem+json
//! ([`crate::error::problem_for_plain_response`]), sets the secure headers ([`crate::headers`])
//! and echoes the request id. A handler that panics is answered 500 problem+json rather than left
//! without an answer.
//!
//! [`crate::Router::secured`] does not layer the router: axum boxes every layer of a router per
//! route and clones the box on every request. Each endpoint's guarded handler makes the passage
//! itself ([`crate::__private`]); only the 404 and 405 fallbacks go through [`SecurityLayer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::request::Parts;
use axum::http::{HeaderValue, Request};
use std::convert::Infallible;

use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::Security;
use crate::context::RequestScope;
use crate::context::{REQUEST_ID, RequestMeta};
use crate::headers::ResponseTemplate;
use crate::security::Installed;

/// The W3C Trace Context header.
const TRACEPARENT: &str = "traceparent";

/// The security stack around a router or service: [`crate::Security`]'s own methods, written
/// here with the layer they return.
impl Security {
    /// Wraps `router` with, from the outside in: request context (request id, client IP), secure
    /// headers, problem+json for plain error responses, and this hub for the extractors.
    ///
    /// All of it is one layer ([`crate::SecurityLayer`]): axum boxes each layer per route and clones the
    /// box on every request.
    pub fn apply<S: Clone + Send + Sync + 'static>(&self, router: axum::Router<S>) -> axum::Router<S> {
        router.layer(self.layer())
    }

    /// The same stack as [`Security::apply`], as a layer for `tower::ServiceBuilder` or any
    /// service.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::{Router, Security, public};
    /// use tower::ServiceBuilder;
    ///
    /// #[public(get, path = "/health", reason = "probes")]
    /// async fn health() -> &'static str {
    ///     "ok"
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let config = rampart::config::Config::from_lookup(|_| None).unwrap(); // development defaults
    /// let security = Security::from_config(&config).unwrap();
    /// let app: axum::Router = Router::new().mount(health).into_axum();
    /// let service = ServiceBuilder::new().layer(security.layer()).service(app);
    /// # let _ = service;
    /// # });
    /// ```
    pub fn layer(&self) -> SecurityLayer {
        SecurityLayer::new(Installed { security: self.clone(), inventory: None, document: None })
    }
}

/// The security stack as a tower layer, from [`crate::Security::layer`]: request id, client IP,
/// the hub for the extractors, problem+json for plain error responses, secure headers, and a
/// panicking handler answered 500 — for a router or service assembled with `ServiceBuilder`.
#[derive(Debug, Clone)]
pub struct SecurityLayer {
    installed: Arc<Installed>,
}

impl SecurityLayer {
    pub(crate) fn new(installed: Installed) -> Self {
        Self { installed: Arc::new(installed) }
    }
}

impl<S> Layer<S> for SecurityLayer {
    type Service = SecurityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityService { inner, installed: Arc::clone(&self.installed) }
    }
}

/// `router` with its 404 and 405 answers going through the security layer (its endpoints make
/// the passage themselves: see [`crate::Router::secured`]).
/// `fallback` answers what no route matches, instead of 404.
pub(crate) fn with_fallbacks(
    router: axum::Router,
    installed: Arc<Installed>,
    fallback: Option<Fallback>,
) -> axum::Router {
    let layer = SecurityLayer { installed };
    let answer = |status: StatusCode| {
        layer.layer(tower::service_fn(move |_: Request<axum::body::Body>| {
            std::future::ready(Ok::<_, Infallible>(status.into_response()))
        }))
    };
    let not_allowed = answer(StatusCode::METHOD_NOT_ALLOWED);
    let router = match fallback {
        Some(fallback) => router.fallback_service(layer.layer(fallback)),
        None => router.fallback_service(answer(StatusCode::NOT_FOUND)),
    };
    router.method_not_allowed_fallback(move |request: Request<axum::body::Body>| {
        let service = not_allowed.clone();
        async move {
            let Ok(response) = tower::ServiceExt::oneshot(service, request).await;
            response
        }
    })
}

/// A service that answers the requests no endpoint matches ([`crate::Router::fallback_service`]).
pub(crate) type Fallback = tower::util::BoxCloneSyncService<Request<axum::body::Body>, Response, Infallible>;

/// The service of [`SecurityLayer`].
#[derive(Debug, Clone)]
pub struct SecurityService<S> {
    inner: S,
    installed: Arc<Installed>,
}

impl<S, B> Service<Request<B>> for SecurityService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SecurityFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let passage = Passage::enter(&self.installed, &mut parts);
        SecurityFuture { inner: self.inner.call(Request::from_parts(parts, body)), passage }
    }
}

pin_project! {
    /// The response future of [`SecurityService`].
    pub struct SecurityFuture<F> {
        #[pin]
        inner: F,
        passage: Option<Passage>,
    }
}

impl<F> SecurityFuture<F> {
    /// `inner`'s response finished by `passage` (when this request entered the security stack
    /// here; `None`: an outer layer finishes it).
    pub(crate) fn new(inner: F, passage: Option<Passage>) -> Self {
        Self { inner, passage }
    }
}

impl<F, E> Future for SecurityFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _in_span =
            this.passage.as_ref().and_then(|passage| passage.span.as_deref().cloned()).map(tracing::Span::entered);
        let response = match poll_catching(this.inner, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Caught::Answered(result)) => result?,
            Poll::Ready(Caught::Panicked(response)) => response,
        };
        Poll::Ready(Ok(match this.passage.take() {
            Some(passage) => passage.leave(response),
            None => response,
        }))
    }
}

/// What polling a handler's future gave.
pub(crate) enum Caught<T> {
    /// Its output.
    Answered(T),
    /// It panicked: the 500 response to send instead.
    Panicked(Response),
}

/// Polls `inner`, turning a panic into a 500 problem+json (with the usual headers once the
/// passage leaves) instead of a connection dropped without an answer. A future that panicked is
/// never polled again.
pub(crate) fn poll_catching<F: Future + ?Sized>(inner: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<Caught<F::Output>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Caught::Answered(output)),
        Err(_) => {
            tracing::error!(target: "rampart::panic", "a handler panicked; the request was answered 500");
            let response =
                axum::response::IntoResponse::into_response(crate::Error::Internal("a handler panicked".into()));
            Poll::Ready(Caught::Panicked(response))
        }
    }
}

/// One request's way through the security layer: [`Passage::enter`] on the way in,
/// [`Passage::leave`] on the way out.
#[derive(Debug)]
pub(crate) struct Passage {
    request_id: HeaderValue,
    client_ip: std::net::IpAddr,
    hsts: bool,
    timed: Option<crate::telemetry::Timing>,
    /// The endpoint that answered, when its guard named it here (else the response's
    /// [`crate::telemetry::RouteLabel`] names it).
    route: Option<&'static crate::telemetry::EndpointMetrics>,
    /// The request's span ([`crate::trace`]), when a subscriber wants it (boxed: one word in
    /// every passage, which moves with the request's future).
    pub(crate) span: Option<Box<tracing::Span>>,
}

impl Passage {
    /// Assigns the request's id and client and puts the [`RequestScope`] in its extensions.
    /// `None` when a security layer already did (the request went through two): the outer one
    /// finishes the response.
    pub(crate) fn enter(installed: &Arc<Installed>, parts: &mut Parts) -> Option<Self> {
        if parts.extensions.get::<RequestScope>().is_some() {
            return None;
        }
        let proxies = installed.security.trusted_proxies();
        let meta = RequestMeta::assign(parts, proxies);
        let span = crate::trace::wanted().then(|| {
            // A trace context only from a trusted proxy, as X-Forwarded-For.
            let parent = match parts.headers.get(TRACEPARENT) {
                Some(value) if proxies.contains(crate::context::peer_ip(&parts.extensions)) => {
                    value.to_str().ok().and_then(crate::trace::TraceParent::parse)
                }
                _ => None,
            };
            Box::new(crate::trace::request_span(
                parts.method.as_str(),
                meta.request_id.to_str().unwrap_or("-"),
                meta.client_ip,
                parent.as_ref(),
            ))
        });
        let passage = Passage {
            request_id: meta.request_id.clone(),
            client_ip: meta.client_ip,
            hsts: installed.security.hsts(),
            timed: crate::telemetry::timing(&parts.method),
            route: None,
            span,
        };
        parts.extensions.insert(RequestScope { meta, installed: Arc::clone(installed) as _, verified: None });
        Some(passage)
    }

    /// The audit context of this request on `info`'s route, built when an event needs it.
    pub(crate) fn context(&self, info: &crate::EndpointInfo) -> crate::context::RequestContext {
        crate::context::RequestContext {
            request_id: std::sync::Arc::from(self.request_id.to_str().unwrap_or("-")),
            method: info.method.as_str().parse().unwrap_or(axum::http::Method::GET),
            route: std::sync::Arc::from(info.path),
            client_ip: self.client_ip,
        }
    }

    /// Names the endpoint that answers, for the request metrics.
    pub(crate) fn set_route(&mut self, endpoint: &'static crate::telemetry::EndpointMetrics) {
        self.route = Some(endpoint);
    }

    /// Whether the response gets `Strict-Transport-Security`.
    pub(crate) fn hsts(&self) -> bool {
        self.hsts
    }

    /// Finishes the response: problem+json for plain errors, the secure headers, the request id,
    /// the metrics.
    pub(crate) fn leave(self, response: Response) -> Response {
        self.leave_allowed(response, None, None)
    }

    /// [`Passage::leave`] for the response of a request the guard allowed at once, with the
    /// endpoint's `template` of headers (see [`ResponseTemplate`]) and the `rate` headers
    /// (`RateLimit-Policy`, `RateLimit`) of its decision.
    pub(crate) fn leave_allowed(
        self,
        response: Response,
        template: Option<&ResponseTemplate>,
        rate: Option<(&HeaderValue, HeaderValue)>,
    ) -> Response {
        let mut response = crate::error::problem_for_plain_response(response);
        if let Some(span) = &self.span {
            crate::trace::record_status(span, response.status().as_u16());
        }
        let Passage { request_id, hsts, timed, route, .. } = self;
        let (policy, state) = rate.unzip();
        let left = match template {
            Some(template) => template.fill(response.headers_mut(), request_id, state),
            None => Err((request_id, state)),
        };
        if let Err((request_id, state)) = left {
            let headers = response.headers_mut();
            headers.reserve(2 + crate::headers::ADDED_BY_STACK);
            if let (Some(policy), Some(state)) = (policy, state) {
                crate::rate::insert_headers(headers, policy.clone(), state);
            }
            crate::headers::apply(headers, hsts);
            headers.insert(REQUEST_ID.clone(), request_id);
        }
        if let Some(timing) = timed {
            timing.finish(&response, route);
        }
        response
    }
}
