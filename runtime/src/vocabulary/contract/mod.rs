//! The contract an attribute declares for one endpoint — its method and route, who may call it,
//! its rate limit and what the document says of it — as plain data ([`EndpointInfo`]): the
//! vocabulary every other part of Rampart reads (the guard enforces it, the rate limiter keys
//! by it, the OpenAPI document and `rampart audit` describe it).
//!
//! # Examples
//!
//! ```
//! use rampart::contract::{Access, RateKey, RateSpec};
//! use rampart::authz::Policy;
//!
//! let access = Access::Secured(Policy::Scope("notes:read"));
//! let rate = RateSpec { count: 10, period_secs: 60, burst: 10, key: RateKey::Subject };
//! assert_eq!(rate.key.as_str(), "sub");
//! assert!(matches!(access, Access::Secured(_)));
//! ```

use std::fmt;

mod accepts;
pub(crate) mod operation;
mod policy;
mod registry;

pub use accepts::{Accepts, Credential};
pub use operation::OperationDoc;
pub use policy::{Denied, Policy};
pub use registry::{Registry, TypeRelations};

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
    /// The ownership check's function (`owner = f`), when declared.
    pub owner: Option<&'static str>,
    /// The resource's loader (`load = f`), when declared.
    pub load: Option<&'static str>,
    /// The relation the caller must hold on the resource (`note#editor`), or, without a loader,
    /// that a list filters by; when declared.
    pub relation: Option<&'static str>,
    /// OpenAPI tags.
    pub tags: &'static [&'static str],
    /// The descriptions `rampart.toml` gives the scopes the policy names (`[scopes]`), which the
    /// document shows; empty without a `rampart.toml`.
    pub scope_descriptions: &'static [(&'static str, &'static str)],
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
    /// The source file of the attribute, as the compiler names it (`file!()`).
    pub file: &'static str,
    /// Whether request bodies are validated before the handler runs (`validate = false` opts out).
    pub validate: bool,
    /// The `rampart.toml` the attribute was checked against, when the project has one.
    pub registry: Option<&'static Registry>,
    /// The success status (`status = 201`; 200 unless given).
    pub status: u16,
    /// The handler's own deadline (`timeout = "5s"`); `None`: the service's
    /// ([`crate::timeout::Timeouts::handler`]).
    pub timeout: Option<std::time::Duration>,
    /// The credentials it accepts (`auth = [...]`; `dpop = "required"` is [`Accepts::DPOP`]):
    /// [`Accepts::ANY`] unless given, that is, whatever the service accepts.
    pub accepts: Accepts,
    /// Describes the handler's parameters, body and response for OpenAPI (generated).
    pub openapi: fn(&mut OperationDoc),
}

impl EndpointInfo {
    /// Whether anyone may call it.
    pub fn is_public(&self) -> bool {
        matches!(self.access, Access::Public { .. })
    }

    /// Whether it accepts only DPoP-bound tokens with their proofs (RFC 9449), whatever the
    /// service's `RAMPART_DPOP`.
    pub fn dpop_required(&self) -> bool {
        self.accepts.dpop_only()
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

/// A route template as an OpenAPI path template: a wildcard `{*rest}` is written `{rest}`.
pub(crate) fn openapi_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.contains("{*") {
        std::borrow::Cow::Owned(path.replace("{*", "{"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
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
