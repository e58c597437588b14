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

use crate::__private::Installation;
use crate::authz::Policy;
use crate::openapi::ApiDocs;

/// An HTTP method an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Method {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    HEAD,
    OPTIONS,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
        }
    }

    /// Whether the method changes state.
    pub fn is_mutating(self) -> bool {
        matches!(self, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Authenticated callers allowed by the policy.
    Secured(Policy),
    /// Anyone, for the stated reason.
    Public {
        /// Why the endpoint is open.
        reason: &'static str,
    },
}

/// What a rate limit is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// The authenticated subject.
    Subject,
    /// The client IP (after the trusted-proxy rules).
    Ip,
    /// The OAuth client id (the subject when the token names none).
    Client,
    /// The API key id (the subject for bearer tokens).
    ApiKey,
}

impl RateKey {
    /// The attribute's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RateKey::Subject => "sub",
            RateKey::Ip => "ip",
            RateKey::Client => "client",
            RateKey::ApiKey => "api_key",
        }
    }
}

/// A declared rate limit: `count` requests per `period_secs`, bursts up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateSpec {
    /// Requests per period.
    pub count: u32,
    /// The period, in seconds.
    pub period_secs: u64,
    /// The largest burst (defaults to `count`).
    pub burst: u32,
    /// What the quota is counted per.
    pub key: RateKey,
}

/// The contract an attribute declared for one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointInfo {
    /// The handler's name.
    pub handler: &'static str,
    /// The method.
    pub method: Method,
    /// The route template (`/notes/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Its rate limit.
    pub rate: Option<RateSpec>,
    /// The ownership check's function, when declared.
    pub owner: Option<&'static str>,
    /// OpenAPI tags.
    pub tags: &'static [&'static str],
    /// OpenAPI operation id (the handler's name unless given).
    pub operation_id: &'static str,
    /// The first paragraph of the doc comment.
    pub summary: Option<&'static str>,
    /// The rest of the doc comment.
    pub description: Option<&'static str>,
    /// Whether the endpoint is deprecated.
    pub deprecated: bool,
    /// The largest request body accepted, in bytes (default 64 KiB).
    pub body_limit: usize,
    /// The module the handler is defined in.
    pub module: &'static str,
    /// The success status (`status = 201`; 200 unless given).
    pub status: u16,
    /// The handler's own deadline (`timeout = "5s"`); `None`: the service's
    /// ([`crate::timeout::Timeouts::handler`]).
    pub timeout: Option<std::time::Duration>,
    /// Describes the handler's parameters, body and response for OpenAPI (generated).
    pub openapi: fn(&mut crate::openapi::OperationDoc),
}

impl EndpointInfo {
    /// Whether anyone may call it.
    pub fn is_public(&self) -> bool {
        matches!(self.access, Access::Public { .. })
    }

    /// The policy, for secured endpoints.
    pub fn policy(&self) -> Option<&Policy> {
        match &self.access {
            Access::Secured(policy) => Some(policy),
            Access::Public { .. } => None,
        }
    }
}

/// The parameter names of a route template (`/notes/{id}` -> `["id"]`, `{*rest}` -> `["rest"]`).
pub(crate) fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*').to_owned())
        .collect()
}

impl fmt::Display for EndpointInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.method.as_str(), self.path)?;
        match &self.access {
            Access::Secured(policy) => write!(f, "{policy}")?,
            Access::Public { reason } => write!(f, "public ({reason})")?,
        }
        if let Some(rate) = &self.rate {
            write!(f, " rate {}/{}s per {}", rate.count, rate.period_secs, rate.key.as_str())?;
        }
        Ok(())
    }
}

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
    /// The axum method router that enforces the contract, then calls the handler; `installation`
    /// is where [`Router::secured`] leaves what it installs.
    fn method_router(self, installation: &crate::__private::Installation) -> MethodRouter<S>;
}

/// A router that mounts only declared endpoints and keeps their inventory.
#[derive(Debug)]
pub struct Router<S = ()> {
    inner: axum::Router<S>,
    inventory: Vec<&'static EndpointInfo>,
    docs: Option<ApiDocs>,
    /// Where the endpoints mounted here find what [`Router::secured`] installs.
    installation: Installation,
    /// The same, for the endpoints of routers merged into this one.
    merged: Vec<Installation>,
}

impl<S: Clone + Send + Sync + 'static> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// An empty router.
    pub fn new() -> Self {
        Self {
            inner: axum::Router::new(),
            inventory: Vec::new(),
            docs: None,
            installation: Installation::default(),
            merged: Vec::new(),
        }
    }

    /// Mounts an endpoint at its declared method and path.
    ///
    /// # Panics
    ///
    /// When two endpoints declare the same method and path (axum refuses overlapping routes).
    pub fn mount<E, M>(mut self, endpoint: E) -> Self
    where
        E: Endpoint + EndpointHandler<S, M>,
    {
        let info = endpoint.info();
        self.inner = self.inner.route(info.path, endpoint.method_router(&self.installation));
        self.inventory.push(info);
        self
    }

    /// Every mounted endpoint's contract, in mounting order.
    pub fn inventory(&self) -> &[&'static EndpointInfo] {
        &self.inventory
    }

    /// Adds the endpoints of `other` (and its documentation settings, when it has some).
    pub fn merge(mut self, other: Router<S>) -> Self {
        self.inner = self.inner.merge(other.inner);
        self.inventory.extend(other.inventory);
        self.merged.push(other.installation);
        self.merged.extend(other.merged);
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
        Router {
            inner: self.inner.with_state(state),
            inventory: self.inventory,
            docs: self.docs,
            installation: self.installation,
            merged: self.merged,
        }
    }

    /// The axum router, without the security layers (see [`crate::Security::apply`]).
    pub fn into_axum(self) -> axum::Router<S> {
        self.inner
    }
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
    pub fn secured(self, security: &crate::Security) -> axum::Router {
        let document = self.docs.as_ref().map(|docs| {
            let document = crate::openapi::document(&self.inventory, docs);
            Arc::<[u8]>::from(crate::openapi::to_json(&document).into_bytes())
        });
        let installed = Arc::new(crate::stack::Installed {
            security: security.clone(),
            inventory: Some(Inventory(self.inventory.into())),
            document,
        });
        for installation in std::iter::once(&self.installation).chain(&self.merged) {
            // A router is secured once (`secured` consumes it).
            let _ = installation.0.set(Arc::clone(&installed));
        }
        // `with_state(())` turns every handler into its route once, instead of on every request.
        crate::stack::with_fallbacks(self.inner.with_state(()), installed)
    }
}

/// The endpoints of a finished router: an extractor for handlers of a [`Router::secured`] router
/// (documentation endpoints, tests).
#[derive(Debug, Clone)]
pub struct Inventory(pub Arc<[&'static EndpointInfo]>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Inventory {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let installed = crate::security::installed(parts)?;
        installed
            .inventory
            .clone()
            .ok_or_else(|| crate::Error::Internal("no inventory: the router was not built with Router::secured".into()))
    }
}
