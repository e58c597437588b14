//! Endpoints: handlers whose security contract was declared with `#[secure]` or `#[public]`, and
//! the [`Router`] that mounts nothing else.
//!
//! The attributes replace the handler function by a same-name unit struct that implements
//! [`Endpoint`] (its declared contract, [`EndpointInfo`]) and [`EndpointHandler`] (the axum
//! handler that runs authentication, authorization and the rate limit before the handler's own
//! extractors). [`Router::mount`] accepts only such endpoints, so a forgotten attribute is a
//! compile error; [`Router::inventory`] lists every mounted contract at run time.
//!
//! # Examples
//!
//! ```
//! use rampart::{Router, public, secure};
//! use rampart::auth::Principal;
//!
//! /// Liveness probe.
//! #[public(get, path = "/health", reason = "load balancers probe it without credentials")]
//! async fn health() -> &'static str {
//!     "ok"
//! }
//!
//! /// Who am I?
//! #[secure(get, path = "/me", scope = "profile:read", rate = "100/min")]
//! async fn me(user: Principal) -> String {
//!     user.subject().to_owned()
//! }
//!
//! let router: Router = Router::new().mount(health).mount(me);
//! let routes: Vec<String> = router.inventory().iter().map(|e| e.to_string()).collect();
//! assert_eq!(routes, [
//!     "GET /health public (load balancers probe it without credentials)",
//!     "GET /me scope = \"profile:read\" rate 100/60s per sub",
//! ]);
//! ```

use std::fmt;
use std::sync::Arc;

use axum::routing::MethodRouter;

pub use crate::contract::{Accepts, Access, EndpointInfo, Method, RateKey, RateSpec};
use crate::guard::Installation;
use crate::openapi::ApiDocs;
pub use crate::security::Inventory;
use crate::stack::Fallback;

/// A handler whose security contract was declared with `#[rampart::secure]` or
/// `#[rampart::public]`. Implemented by the attributes; a hand-written impl is a visible bypass
/// that `rampart audit` reports.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no security policy: annotate it with #[rampart::secure(...)] or #[rampart::public(reason = ...)]",
    label = "this handler declares no security contract",
    note = "a Rampart router mounts only endpoints whose authentication, authorization and rate limit are declared"
)]
pub trait Endpoint: Copy + Send + Sync + 'static {
    /// The declared contract.
    fn info(self) -> &'static EndpointInfo;
}

/// The axum side of an [`Endpoint`] for a router with state `S`; `M` is inferred (it records how
/// the last argument is extracted, as in axum's `Handler<T, S>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no security policy: annotate it with #[rampart::secure(...)] or #[rampart::public(reason = ...)]",
    label = "this handler declares no security contract",
    note = "a Rampart router mounts only endpoints whose authentication, authorization and rate limit are declared",
    note = "if it is annotated, one of its extractors does not accept the router's state `{S}`"
)]
pub trait EndpointHandler<S, M>: Endpoint {
    /// The axum method router that enforces `info` (the endpoint's contract, at its full path
    /// when nested), then calls the handler; `installation` is where [`Router::secured`] leaves
    /// what it installs.
    fn method_router(self, info: &'static EndpointInfo, installation: &Installation) -> MethodRouter<S>;
}

/// A router that mounts only declared endpoints and keeps their inventory.
///
/// Routers compose as axum's do: [`Router::merge`] joins two, [`Router::nest`] mounts one under a
/// path prefix. A nested endpoint has its full path everywhere: in the route, the inventory, the
/// OpenAPI document, its rate-limit keys, metric labels and audit events.
///
/// # Examples
///
/// ```
/// use rampart::{Router, secure};
///
/// /// Lists the orders.
/// #[secure(get, path = "/orders", scope = "orders:read", rate = "100/min")]
/// async fn list_orders() -> &'static str {
///     "[]"
/// }
///
/// let api: Router = Router::new().nest("/api/v1", Router::new().mount(list_orders));
/// assert_eq!(api.inventory()[0].path, "/api/v1/orders");
/// ```
pub struct Router<S = ()> {
    /// The mounted endpoints' contracts, in mounting order.
    inventory: Vec<&'static EndpointInfo>,
    /// Each endpoint's axum route, made when the router is finished (so that nesting can still
    /// change its path): in the same order as `inventory`.
    routes: Vec<MakeRoute<S>>,
    docs: Option<ApiDocs>,
    /// What answers the requests no endpoint matches (404 problem+json when `None`).
    fallback: Option<Fallback>,
}

/// Makes an endpoint's method router for its (possibly nested) contract; the installation is
/// where [`Router::secured`] leaves what it installs.
type MakeRoute<S> = Box<dyn FnOnce(&'static EndpointInfo, &Installation) -> MethodRouter<S> + Send + Sync>;

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").field("inventory", &self.inventory).field("docs", &self.docs).finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// An empty router.
    pub fn new() -> Self {
        Self { inventory: Vec::new(), routes: Vec::new(), docs: None, fallback: None }
    }

    /// Mounts an endpoint at its declared method and path.
    ///
    /// # Panics
    ///
    /// When another endpoint of this router declares the same method and path.
    pub fn mount<E, M>(mut self, endpoint: E) -> Self
    where
        E: Endpoint + EndpointHandler<S, M>,
    {
        self.push(endpoint.info(), Box::new(move |info, installation| endpoint.method_router(info, installation)));
        self
    }

    fn push(&mut self, info: &'static EndpointInfo, route: MakeRoute<S>) {
        if let Some(twin) = self.inventory.iter().find(|other| other.method == info.method && other.path == info.path) {
            panic!(
                "two endpoints answer {} {}: `{}` and `{}`; give one of them another path or method",
                info.method.as_str(),
                info.path,
                twin.handler,
                info.handler
            );
        }
        self.inventory.push(info);
        self.routes.push(route);
    }

    /// Every mounted endpoint's contract, in mounting order.
    pub fn inventory(&self) -> &[&'static EndpointInfo] {
        &self.inventory
    }

    /// Adds the endpoints of `other` (and its documentation settings and fallback, when it has
    /// some).
    ///
    /// # Panics
    ///
    /// When an endpoint of `other` answers the same method and path as one of this router, or
    /// when both routers have a fallback.
    pub fn merge(mut self, other: Router<S>) -> Self {
        for (info, route) in other.inventory.into_iter().zip(other.routes) {
            self.push(info, route);
        }
        self.docs = self.docs.or(other.docs);
        assert!(
            self.fallback.is_none() || other.fallback.is_none(),
            "both merged routers have a fallback: keep one (Router::fallback_service)"
        );
        self.fallback = self.fallback.or(other.fallback);
        self
    }

    /// Answers the requests no endpoint matches with `service` instead of 404 problem+json: a
    /// static file server, a single-page app's index, or a whole axum router with routes and a
    /// fallback of its own (an axum router is a service). Its answers go through the security
    /// stack as every other (request id, client IP, secure headers, problem+json for plain error
    /// responses); no endpoint contract applies to it, so it is what serves what needs none.
    ///
    /// (axum refuses to merge two routers that both have a fallback, and [`Router::secured`]'s
    /// router has one: this is how an axum router with a fallback joins a Rampart one.)
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::{Router, public};
    ///
    /// #[public(get, path = "/health", reason = "probes")]
    /// async fn health() -> &'static str {
    ///     "ok"
    /// }
    ///
    /// let site = axum::Router::new()
    ///     .route("/robots.txt", axum::routing::get(|| async { "User-agent: *\nDisallow:\n" }))
    ///     .fallback(|| async { "the single-page app's index" });
    /// let router: Router = Router::new().mount(health).fallback_service(site);
    /// # let _ = router;
    /// ```
    ///
    /// # Panics
    ///
    /// When the router has a fallback already.
    pub fn fallback_service<T>(mut self, service: T) -> Self
    where
        T: tower::Service<axum::extract::Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
        T::Response: axum::response::IntoResponse,
        T::Future: Send + 'static,
    {
        assert!(self.fallback.is_none(), "fallback_service called twice");
        let service = tower::ServiceExt::map_response(service, axum::response::IntoResponse::into_response);
        self.fallback = Some(Fallback::new(service));
        self
    }

    /// Serves `service` at `GET path` (and `HEAD`): static files, a `robots.txt`, anything that
    /// is not an endpoint. No endpoint contract applies (anyone may call it, for `reason`), but
    /// its answers go through the security stack as every endpoint's (request id, client IP,
    /// secure headers, problem+json for plain error responses); it has an inventory entry and an
    /// OpenAPI operation saying it is public and why (`x-rampart-public`), and `rampart audit`
    /// lists it. A path ending in a wildcard (`/assets/{*file}`) serves everything under it; the
    /// service sees the whole request path (`ServeDir::new("public")` serves `public/assets/...`).
    ///
    /// This is the way to add such routes: the router [`Router::secured`] returns takes no more.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::{Router, public};
    ///
    /// #[public(get, path = "/health", reason = "probes")]
    /// async fn health() -> &'static str {
    ///     "ok"
    /// }
    ///
    /// let robots = axum::routing::get(|| async { "User-agent: *\nDisallow: /\n" });
    /// let router: Router = Router::new().mount(health).mount_service("/robots.txt", robots, "crawlers read it");
    /// assert_eq!(router.inventory()[1].to_string(), "GET /robots.txt public (crawlers read it)");
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/` or `reason` is empty, or when another route of this
    /// router answers `GET path`.
    #[track_caller]
    pub fn mount_service<T>(mut self, path: &'static str, service: T, reason: &'static str) -> Self
    where
        T: tower::Service<axum::extract::Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
        T::Response: axum::response::IntoResponse,
        T::Future: Send + 'static,
    {
        assert!(path.starts_with('/'), "mount_service `{path}`: a path starts with `/`");
        assert!(
            !reason.trim().is_empty(),
            "mount_service `{path}`: say why it needs no endpoint contract (the reason)"
        );
        let info: &'static EndpointInfo = Box::leak(Box::new(EndpointInfo {
            handler: "mount_service",
            method: Method::GET,
            path,
            access: Access::Public { reason },
            rate: None,
            owner: None,
            load: None,
            relation: None,
            tags: &[],
            scope_descriptions: &[],
            operation_id: Box::leak(service_operation_id(path).into_boxed_str()),
            summary: Some("A service mounted with `mount_service`: no endpoint contract"),
            description: None,
            deprecated: false,
            body_limit: 0,
            module: "rampart::Router::mount_service",
            file: std::panic::Location::caller().file(),
            validate: false,
            registry: None,
            status: 200,
            timeout: None,
            accepts: crate::contract::Accepts::ANY,
            openapi: |_| {},
        }));
        let service =
            Fallback::new(tower::ServiceExt::map_response(service, axum::response::IntoResponse::into_response));
        self.push(info, Box::new(move |info, installation| crate::guard::service_route(info, service, installation)));
        self
    }

    /// Mounts the endpoints of `other` under `prefix`: `other`'s `GET /orders` becomes
    /// `GET {prefix}/orders` (and its `/`, `{prefix}`), in the route and in everything that
    /// names the route (inventory, OpenAPI, rate-limit keys, metrics, audit). `other`'s
    /// documentation settings are kept when this router has none.
    ///
    /// # Panics
    ///
    /// When `prefix` does not start with `/`, ends with `/` or holds a wildcard (`{*...}`), or
    /// when a nested endpoint answers the same method and path as one of this router.
    pub fn nest(mut self, prefix: &str, other: Router<S>) -> Self {
        assert!(
            prefix.starts_with('/') && prefix.len() > 1 && !prefix.ends_with('/'),
            "nest prefix `{prefix}`: give a path such as \"/api/v1\" (starting with `/`, not ending with it; to add a router at the root, use merge)"
        );
        assert!(!prefix.contains("{*"), "nest prefix `{prefix}`: a wildcard cannot be followed by the nested routes");
        assert!(
            other.fallback.is_none(),
            "nest `{prefix}`: the nested router has a fallback, which would answer outside the prefix; give it to the outer router"
        );
        for (info, route) in other.inventory.into_iter().zip(other.routes) {
            self.push(nested(prefix, info), route);
        }
        self.docs = self.docs.or(other.docs);
        self
    }

    /// Serves the OpenAPI document of every mounted endpoint at `GET /openapi.json` and, unless
    /// turned off in `docs`, Swagger UI at `GET /docs` (see [`crate::docs`]). Both are public
    /// endpoints of the inventory; the document is assembled by [`Router::secured`] from the
    /// final inventory.
    ///
    /// # Panics
    ///
    /// When called twice, or when the router already has those routes.
    pub fn with_docs(mut self, docs: ApiDocs) -> Self {
        assert!(self.docs.is_none(), "with_docs called twice");
        let swagger_ui = docs.serves_swagger_ui();
        self.docs = Some(docs);
        self = self.mount(crate::docs::openapi_json);
        #[cfg(feature = "swagger-ui")]
        if swagger_ui {
            self = self.mount(crate::docs::docs_page).mount(crate::docs::docs_asset);
        }
        #[cfg(not(feature = "swagger-ui"))]
        let _ = swagger_ui;
        self
    }

    /// Provides the state, as `axum::Router::with_state`.
    pub fn with_state<S2>(self, state: S) -> Router<S2> {
        let routes = self
            .routes
            .into_iter()
            .map(|route| {
                let state = state.clone();
                Box::new(move |info, installation: &Installation| route(info, installation).with_state(state))
                    as MakeRoute<S2>
            })
            .collect();
        Router { inventory: self.inventory, routes, docs: self.docs, fallback: self.fallback }
    }

    /// The axum router of the endpoints mounted here, routed at their full paths, `installation`
    /// giving them what [`Router::secured`] installs.
    fn build(self, installation: &Installation) -> Built<S> {
        let mut router = axum::Router::new();
        for (info, route) in self.inventory.iter().zip(self.routes) {
            router = router.route(info.path, route(info, installation));
        }
        Built { router, inventory: self.inventory, docs: self.docs, fallback: self.fallback }
    }

    /// The axum router, without the security layers (see [`crate::Security::apply`]).
    pub fn into_axum(self) -> axum::Router<S> {
        let built = self.build(&Installation::default());
        match built.fallback {
            Some(fallback) => built.router.fallback_service(fallback),
            None => built.router,
        }
    }
}

/// `serve_robots_txt` for `/robots.txt`, `serve_assets_file` for `/assets/{*file}`.
fn service_operation_id(path: &str) -> String {
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() { "serve_root".to_owned() } else { format!("serve_{}", words.join("_")) }
}

/// A finished router's parts.
struct Built<S> {
    router: axum::Router<S>,
    inventory: Vec<&'static EndpointInfo>,
    docs: Option<ApiDocs>,
    fallback: Option<Fallback>,
}

/// `info` nested under `prefix`: the same contract at `{prefix}{path}`. Made once per endpoint
/// and prefix in the life of the process (the contracts are `'static`, as the attributes make
/// them), however many routers nest it.
fn nested(prefix: &str, info: &'static EndpointInfo) -> &'static EndpointInfo {
    type Nested = std::collections::HashMap<(usize, String), &'static EndpointInfo>;
    static NESTED: std::sync::LazyLock<std::sync::Mutex<Nested>> = std::sync::LazyLock::new(Default::default);
    let path = if info.path == "/" { prefix.to_owned() } else { format!("{prefix}{}", info.path) };
    let mut nested = NESTED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (std::ptr::from_ref(info) as usize, path);
    if let Some(found) = nested.get(&key) {
        return found;
    }
    let path: &'static str = Box::leak(key.1.clone().into_boxed_str());
    let info: &'static EndpointInfo = Box::leak(Box::new(EndpointInfo { path, ..*info }));
    nested.insert(key, info);
    info
}

impl Router<()> {
    /// The finished axum router, secured by `security`, with the inventory available to handlers
    /// through the [`Inventory`] extractor.
    ///
    /// Every response goes through what [`crate::Security::apply`] does (request id, client IP,
    /// secure headers, problem+json), 404 and 405 included. The endpoints do it themselves rather
    /// than through a layer, which axum would box per route and clone on every request.
    ///
    /// With [`Router::with_docs`], the OpenAPI document is assembled here, once, from the whole
    /// inventory.
    ///
    /// The router it returns takes no more routes ([`crate::SecuredRouter`]): mount everything
    /// before, services such as static files with [`Router::mount_service`].
    ///
    /// # Panics
    ///
    /// When a secured endpoint accepts no credential the service accepts: it requires DPoP
    /// (`dpop = "required"`) and the service does not accept it (`RAMPART_DPOP=off`), or it names
    /// only credentials (`auth = [...]`) the service is not configured for. No request could ever
    /// reach it.
    pub fn secured(self, security: &crate::Security) -> crate::SecuredRouter {
        let service = security.authenticator().accepts();
        for info in self.inventory.iter().filter(|info| !info.is_public()) {
            let route = info.accepts;
            if (route.bearer && service.bearer) || (route.dpop && service.dpop) || (route.api_key && service.api_key) {
                continue;
            }
            if info.dpop_required() {
                panic!(
                    "`{} {}` requires DPoP-bound tokens (dpop = \"required\") but this service does not accept \
                     them (RAMPART_DPOP=off): set RAMPART_DPOP=allowed or required, or remove `dpop` from the route",
                    info.method.as_str(),
                    info.path
                );
            }
            panic!(
                "`{} {}` accepts only {:?} (`auth = [...]`) but this service accepts {:?}: configure one of the \
                 route's (API keys: RAMPART_API_KEYS; DPoP: RAMPART_DPOP=allowed; tokens: a JWT key or \
                 RAMPART_INTROSPECTION_URL), or widen the route's `auth`",
                info.method.as_str(),
                info.path,
                route.names(),
                service.names()
            );
        }
        let installation = Installation::default();
        let Built { router, inventory, docs, fallback } = self.build(&installation);
        let document = docs.as_ref().map(|docs| {
            // The schemes the service accepts, as configured: the document says what is enforced.
            let authenticator = security.authenticator();
            let docs = docs.clone().dpop(authenticator.dpop_mode()).api_keys(authenticator.accepts_api_keys());
            let document = crate::openapi::document(&inventory, &docs);
            Arc::<[u8]>::from(crate::openapi::to_json(&document).into_bytes())
        });
        let installed = Arc::new(crate::security::Installed {
            security: security.clone(),
            inventory: Some(Inventory(inventory.into())),
            document,
        });
        // A router is secured once (`secured` consumes it).
        let _ = installation.0.set(Arc::clone(&installed));
        // `with_state(())` turns every handler into its route once, instead of on every request.
        crate::SecuredRouter::new(crate::stack::with_fallbacks(router.with_state(()), installed, fallback))
    }
}
