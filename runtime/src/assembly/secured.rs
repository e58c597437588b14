//! The finished router: [`SecuredRouter`], what [`crate::Router::secured`] returns.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use tower::{Layer, Service};

/// The router [`crate::Router::secured`] returns: every route it answers is an endpoint or a
/// service mounted before it was secured, behind the security stack. It takes no more routes:
/// `.route(...)`, `.nest(...)`, `.merge(...)` and the like are compile errors that say where
/// such routes go ([`crate::Router::mount`], [`crate::Router::mount_service`],
/// [`crate::Router::fallback_service`]). Layers (CORS, compression) wrap it as a whole.
///
/// [`rampart::serve`](crate::serve::serve) serves it; [`SecuredRouter::into_axum`] gives the
/// axum router, for `axum::serve` or a test's `oneshot`.
///
/// # Examples
///
/// ```
/// use rampart::{Router, Security, SecuredRouter, public};
///
/// #[public(get, path = "/health", reason = "probes")]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// let config = rampart::config::Config::from_lookup(|_| None).unwrap(); // development defaults
/// let app: SecuredRouter = Router::new().mount(health).secured(&Security::from_config(&config).unwrap());
/// let app = app.layer(tower_http::cors::CorsLayer::new());
/// # let _ = app;
/// ```
///
/// A route added after `secured()` would answer without the security stack, so it does not
/// compile:
///
/// ```compile_fail
/// # use rampart::{Router, Security};
/// # let config = rampart::config::Config::from_lookup(|_| None).unwrap();
/// let app = Router::new()
///     .secured(&Security::from_config(&config).unwrap())
///     .route("/robots.txt", axum::routing::get(|| async { "User-agent: *" }));
/// ```
#[derive(Debug, Clone)]
#[must_use = "serve it with rampart::serve, or turn it into an axum router with into_axum()"]
pub struct SecuredRouter(axum::Router);

/// What would let a route be added after [`crate::Router::secured`]: nothing implements it.
#[diagnostic::on_unimplemented(
    message = "routes cannot be added after `secured()`: they would answer without the security stack (no secure headers, no request id)",
    label = "added after `secured()`",
    note = "mount it on the rampart::Router before `secured()`: an endpoint with `.mount(handler)` (#[secure] or #[public]), static files and other services with `.mount_service(path, service, reason)`, everything else with `.fallback_service(service)`"
)]
pub trait RoutesGoBeforeSecured: sealed::Sealed {
    /// Never called: no value of an implementing type exists.
    fn unreachable(self) -> Infallible;
}

mod sealed {
    pub trait Sealed {}
}

/// The methods of `axum::Router` that add routes, present so that calling one names the way to
/// do it instead of "no method named `route`".
macro_rules! routes_go_before_secured {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        #[allow(unreachable_code, reason = "no value of `T` exists: the body never runs")]
        pub fn $name<T: RoutesGoBeforeSecured>(self, $($arg: $ty,)* routes: T) -> Self {
            $(let _ = $arg;)*
            match routes.unreachable() {}
        }
    )*};
}

impl SecuredRouter {
    pub(crate) fn new(router: axum::Router) -> Self {
        Self(router)
    }

    /// Wraps every route with `layer` (a CORS layer, compression), as `axum::Router::layer`.
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Self(self.0.layer(layer))
    }

    /// The axum router, to serve with `axum::serve` or call in a test. Routes added to it answer
    /// without the security stack (and `rampart audit` reports them as raw routes).
    pub fn into_axum(self) -> axum::Router {
        self.0
    }

    /// As `axum::Router::into_make_service_with_connect_info`: for `axum::serve`, with the
    /// peer's address available to the request (`ConnectInfo<C>`).
    pub fn into_make_service_with_connect_info<C>(
        self,
    ) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, C> {
        self.0.into_make_service_with_connect_info()
    }

    routes_go_before_secured! {
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        route(path: &str);
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        route_service(path: &str);
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        nest(path: &str);
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        nest_service(path: &str);
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        merge();
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        fallback();
        /// Not available after `secured()`: see [`RoutesGoBeforeSecured`].
        fallback_service();
    }
}

impl From<SecuredRouter> for axum::Router {
    fn from(router: SecuredRouter) -> Self {
        router.0
    }
}

impl Service<Request> for SecuredRouter {
    type Response = Response;
    type Error = Infallible;
    type Future = <axum::Router as Service<Request>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Request>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.0.call(request)
    }
}

/// `axum::serve(listener, app)` serves it as it serves an axum router.
impl<L: axum::serve::Listener> Service<axum::serve::IncomingStream<'_, L>> for SecuredRouter {
    type Response = axum::Router;
    type Error = Infallible;
    type Future = std::future::Ready<Result<axum::Router, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.0.clone()))
    }
}
