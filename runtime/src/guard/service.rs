//! The route of a service mounted with [`crate::Router::mount_service`]: no endpoint contract
//! (anyone may call it, for the reason given), but the same passage through the security stack as
//! every endpoint: request id, client IP, secure headers, problem+json for plain error
//! responses, a panic answered 500, the request metrics under the route's template.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use axum::routing::MethodRouter;
use tower::Service;

use crate::contract::EndpointInfo;
use crate::guard::Installation;
use crate::stack::{Fallback, Passage, SecurityFuture};
use crate::telemetry::EndpointMetrics;

/// `service` answering `GET` and `HEAD` at `info`'s path.
pub(crate) fn service_route<S>(
    info: &'static EndpointInfo,
    service: Fallback,
    installation: &Installation,
) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let metrics = EndpointMetrics::leak(info.path, info.method.as_str());
    axum::routing::get_service(MountedService { inner: service, installation: installation.clone(), metrics })
}

/// A mounted service behind the security stack's passage.
#[derive(Clone)]
struct MountedService {
    inner: Fallback,
    installation: Installation,
    metrics: &'static EndpointMetrics,
}

impl Service<Request> for MountedService {
    type Response = Response;
    type Error = Infallible;
    type Future = SecurityFuture<<Fallback as Service<Request>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // Without an installation (a router finished with `into_axum`), `Security::apply`'s layer
        // makes the passage.
        let passage =
            self.installation.0.get().and_then(|installed| Passage::enter(installed, &mut parts)).map(|mut passage| {
                passage.set_route(self.metrics);
                passage
            });
        SecurityFuture::new(self.inner.call(Request::from_parts(parts, body)), passage)
    }
}
