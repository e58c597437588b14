//! The guarded route: an endpoint's handler behind its guard, as one axum handler per endpoint.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower::{Layer as _, Service as _};

use super::limit::finish;
use crate::audit::{AuditEvent, Decision};
use crate::context::RequestContext;
use crate::contract::{EndpointInfo, Method};
use crate::error::Error;
use crate::headers::ResponseTemplate;
use crate::rate::RateDecision;
use crate::security;
use crate::security::Installed;
use crate::stack::{Caught, Passage, poll_catching};
use crate::telemetry::EndpointMetrics;
use crate::timeout::{DeadlineBody, HandlerDeadline, Timeouts};

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

/// Where a [`crate::Router`] leaves, for its endpoints, what [`crate::Router::secured`] installs
/// (the hub, the inventory, the document): each endpoint's handler makes the security layer's
/// passage itself instead of going through a layer (axum boxes every layer per route and clones
/// the box on every request). Empty for a router finished with [`crate::Router::into_axum`]:
/// then [`crate::Security::apply`]'s layer does it.
#[derive(Debug, Clone, Default)]
pub struct Installation(pub(crate) Arc<OnceLock<Arc<Installed>>>);

/// The route of an endpoint: `handler` (with axum's own extraction) behind the guard that
/// enforces `info` first. One generic function for every endpoint, so that the expansion itself
/// holds no async code to type- and borrow-check per handler.
pub fn endpoint_route<H, T, S>(info: &'static EndpointInfo, handler: H, installation: &Installation) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let policy = info.rate.as_ref().and_then(|spec| RateDecision::new(spec, 0).policy_value());
    let metrics = EndpointMetrics::leak(info.path, info.method.as_str());
    let endpoint = Arc::new(GuardedEndpoint {
        info,
        policy,
        installation: installation.clone(),
        template: OnceLock::new(),
        metrics,
    });
    on(method_filter(info.method), Guarded { handler, endpoint })
}

/// An endpoint's handler behind its guard: authentication, authorization and the rate limit run
/// before the handler (and so before any of its extractors reads the request).
///
/// It is a [`Handler`] rather than a layer: axum boxes each route layer and clones the box on
/// every request. When every check can be answered without waiting (a cached token, stores in
/// memory) and allows the request, the handler is called at once and its future is wrapped, not
/// boxed; anything else (a first verification, Redis, any denial) takes the async path, which
/// decides and audits as always.
#[derive(Debug)]
pub struct Guarded<H> {
    handler: H,
    endpoint: Arc<GuardedEndpoint>,
}

/// What a [`Guarded`] handler knows of its endpoint (one reference count per request).
#[derive(Debug)]
struct GuardedEndpoint {
    info: &'static EndpointInfo,
    /// The route's `RateLimit-Policy` value.
    policy: Option<HeaderValue>,
    installation: Installation,
    /// The headers of its usual allowed response, built on the first.
    template: OnceLock<ResponseTemplate>,
    /// Its request metrics' handles.
    metrics: &'static EndpointMetrics,
}

impl<H: Clone> Clone for Guarded<H> {
    fn clone(&self) -> Self {
        Self { handler: self.handler.clone(), endpoint: Arc::clone(&self.endpoint) }
    }
}

/// Gives the request the endpoint's body limit, as the `DefaultBodyLimit` layer would (its
/// extension type is private to axum, so the request goes through the layer's service once),
/// and the body deadline ([`crate::timeout`]). A body known to be empty (a GET,
/// `Content-Length: 0`) has nothing to limit or wait for.
fn with_body_limit(limit: usize, deadline: Duration, request: Request) -> Request {
    if http_body::Body::is_end_stream(request.body()) {
        return request;
    }
    let request = request.map(|body| axum::body::Body::new(DeadlineBody::new(body, deadline)));
    let pass = tower::service_fn(|request: Request| std::future::ready(Ok::<_, Infallible>(request)));
    let Ok(request) = axum::extract::DefaultBodyLimit::max(limit).layer(pass).call(request).into_inner();
    request
}

impl<H, T, S> Handler<T, S> for Guarded<H>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    type Future = GuardedFuture<H::Future>;

    fn call(self, request: Request, state: S) -> Self::Future {
        let Guarded { handler, endpoint } = self;
        let (mut parts, body) = request.into_parts();
        let installed = endpoint.installation.0.get();
        let passage = installed.and_then(|installed| Passage::enter(installed, &mut parts));
        let info = endpoint.info;
        if let Some(span) = passage.as_ref().and_then(|passage| passage.span.as_deref()) {
            crate::trace::record_route(span, info.method.as_str(), info.path);
        }
        let timeouts = match installed {
            Some(installed) => installed.security.timeouts(),
            // Installed by an outer layer (`Security::apply`).
            None => security::installed(&parts).map_or_else(|_| Timeouts::default(), |i| i.security.timeouts()),
        };
        let handler_limit = info.timeout.unwrap_or(timeouts.handler);
        let waiting = match super::checks::check_now(&mut parts, info) {
            Ok(decision) => {
                if let Some(span) = passage.as_ref().and_then(|passage| passage.span.as_deref()) {
                    crate::trace::record_allowed(span, verified_subject(&parts));
                }
                let request = with_body_limit(info.body_limit, timeouts.body, Request::from_parts(parts, body));
                let state = GuardedState::Run {
                    inner: handler.call(request, state),
                    decision,
                    endpoint,
                    passage,
                    deadline: HandlerDeadline::new(handler_limit),
                };
                return GuardedFuture { state };
            }
            Err(waiting) => waiting,
        };
        let endpoint_metrics = endpoint.metrics;
        let inner = Box::pin(async move {
            match waiting.resume(&mut parts, info).await {
                Ok(decision) => {
                    // The request's span is the current one while the guarded future runs.
                    if crate::trace::wanted() {
                        crate::trace::record_allowed(&tracing::Span::current(), verified_subject(&parts));
                    }
                    let request = with_body_limit(info.body_limit, timeouts.body, Request::from_parts(parts, body));
                    let response = handler.call(request, state).await;
                    finish(decision.as_ref(), endpoint.policy.as_ref(), response)
                }
                Err(denied) => denied,
            }
        });
        let deadline = HandlerDeadline::new(handler_limit);
        let metrics = endpoint_metrics;
        GuardedFuture { state: GuardedState::Waiting { inner, passage, deadline, info, metrics } }
    }
}

/// The qualified subject of the caller the guard verified, if any.
fn verified_subject(parts: &axum::http::request::Parts) -> Option<&str> {
    let scope = parts.extensions.get::<crate::context::RequestScope>()?;
    scope.verified.as_ref().map(crate::auth::Principal::qualified_subject)
}

/// The answer to a handler that missed its deadline (its future is dropped), audited, and
/// finished like an error: the allowed response's template does not apply.
fn handler_timed_out(passage: Option<&Passage>, info: &'static EndpointInfo) -> Response {
    let ctx = passage.map_or_else(
        || RequestContext { route: Arc::from(info.path), ..RequestContext::default() },
        |p| p.context(info),
    );
    AuditEvent::new(&ctx, Decision::Deny, "handler_timeout", 503).emit();
    Error::HandlerTimeout.into_response()
}

/// The metrics' route label, when metrics are on, for an outer layer's passage.
fn labelled(mut response: Response, metrics: &'static EndpointMetrics) -> Response {
    if crate::telemetry::labels_routes() {
        response.extensions_mut().insert(crate::telemetry::RouteLabel(metrics));
    }
    response
}

pin_project_lite::pin_project! {
    /// The response future of a [`Guarded`] handler.
    pub struct GuardedFuture<F> {
        #[pin]
        state: GuardedState<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = GuardedProjection]
    enum GuardedState<F> {
        /// Allowed without waiting: the handler runs.
        Run {
            #[pin]
            inner: F,
            decision: Option<RateDecision>,
            endpoint: Arc<GuardedEndpoint>,
            passage: Option<Passage>,
            deadline: HandlerDeadline,
        },
        /// The async path: checks, then the handler, under the same deadline from its first
        /// wait (the checks' own waits are bounded: Redis by its timeout, JWKS by its fetch's).
        Waiting {
            inner: Pin<Box<dyn Future<Output = Response> + Send>>,
            passage: Option<Passage>,
            deadline: HandlerDeadline,
            info: &'static EndpointInfo,
            metrics: &'static EndpointMetrics,
        },
    }
}

impl<F: Future<Output = Response>> Future for GuardedFuture<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let mut this = self.project().state;
        // The request's span is current while the guard and the handler run (audit events record
        // their decision on it).
        let _in_span = match this.as_mut().project() {
            GuardedProjection::Run { passage, .. } | GuardedProjection::Waiting { passage, .. } => {
                passage.as_ref().and_then(|passage| passage.span.as_deref().cloned()).map(tracing::Span::entered)
            }
        };
        let (response, passage, metrics) = match this.project() {
            GuardedProjection::Run { inner, decision, endpoint, passage, deadline } => {
                let polled = match poll_catching(inner, cx) {
                    Poll::Ready(caught) => caught,
                    Poll::Pending if deadline.passed(cx) => {
                        let response = handler_timed_out(passage.as_ref(), endpoint.info);
                        return Poll::Ready(leave(response, passage.take(), endpoint.metrics));
                    }
                    Poll::Pending => return Poll::Pending,
                };
                match polled {
                    Caught::Panicked(response) => (response, passage.take(), endpoint.metrics),
                    Caught::Answered(response) => {
                        return Poll::Ready(match passage.take() {
                            Some(mut passage) => {
                                passage.set_route(endpoint.metrics);
                                let template = endpoint
                                    .template
                                    .get_or_init(|| ResponseTemplate::new(passage.hsts(), endpoint.policy.as_ref()));
                                let state = decision.as_ref().and_then(RateDecision::state_value);
                                passage.leave_allowed(response, Some(template), endpoint.policy.as_ref().zip(state))
                            }
                            // An outer security layer finishes the response.
                            None => {
                                let response = labelled(response, endpoint.metrics);
                                finish(decision.as_ref(), endpoint.policy.as_ref(), response)
                            }
                        });
                    }
                }
            }
            GuardedProjection::Waiting { inner, passage, deadline, info, metrics } => {
                match poll_catching(inner.as_mut(), cx) {
                    Poll::Ready(Caught::Answered(response) | Caught::Panicked(response)) => {
                        (response, passage.take(), *metrics)
                    }
                    Poll::Pending if deadline.passed(cx) => {
                        (handler_timed_out(passage.as_ref(), info), passage.take(), *metrics)
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        Poll::Ready(leave(response, passage, metrics))
    }
}

/// Finishes the endpoint's `response` through the passage, if this handler made one (else an
/// outer layer does). Whichever passage finishes it names the endpoint to the metrics: this one
/// directly, an outer one through the response's label.
fn leave(response: Response, passage: Option<Passage>, metrics: &'static EndpointMetrics) -> Response {
    match passage {
        Some(mut passage) => {
            passage.set_route(metrics);
            passage.leave(response)
        }
        None => labelled(response, metrics),
    }
}
