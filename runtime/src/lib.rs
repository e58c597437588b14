//! # Rampart
//!
//! Secure-by-default building blocks for API services on axum: authentication (JWT bearer tokens
//! and API keys), authorization policies, RFC 9457 problem responses, secure headers, audit
//! events, proxy-aware client IPs, TLS, and fields sealed at rest.
//!
//! Everything here works from plain axum code; the `#[secure]` and `#[public]` attributes build
//! on the same pieces.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::auth::{Algorithm, Authenticator, Issuer, JwtVerifier, VerificationKey};
//! use rampart::authz::Policy;
//! use rampart::extract::{Authorized, PolicySpec};
//! use rampart::Security;
//!
//! struct ReadNotes;
//! impl PolicySpec for ReadNotes {
//!     const POLICY: Policy = Policy::Scope("notes:read");
//! }
//!
//! async fn list(Authorized(user, ..): Authorized<ReadNotes>) -> String {
//!     format!("notes of {}", user.subject())
//! }
//!
//! let key = VerificationKey::from_secret(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
//! let issuer = Issuer::builder("rampart-dev", ["notes"]).key(key).build().unwrap();
//! let security = Security::new(Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).build().unwrap());
//! let app: Router = security.apply(Router::new().route("/notes", get(list)));
//! ```

// The attributes expand to `::rampart::...` paths; this lets the runtime use them itself.
extern crate self as rampart;

// The folders are the layers; each imports only from its own layer or below (checked by
// `tests/layers.rs`). The public modules are re-exported here, where users find them.
mod assembly;
mod edge;
pub mod guard;
mod hub;
mod mechanisms;
mod vocabulary;

pub use assembly::{docs, endpoint, lock, metrics, oauth, serve, testing};
pub use edge::{context, headers};
pub use guard::{extract, validate};
pub use hub::setup;
pub(crate) use hub::{security, stack};
pub(crate) use mechanisms::telemetry;
pub use mechanisms::{
    audit, auth, client_ip, config, cors, crypto, lockout, openapi, rate, relations, timeout, tls, token, trace,
};
pub use vocabulary::{contract, error};

pub mod authz {
    //! Authorization: what the caller may do.
    //!
    //! A [`Policy`] is a constant tree of scope and role requirements, evaluated against a
    //! [`Principal`](crate::auth::Principal). Deny by default: a policy that cannot be evaluated
    //! (an empty `all`/`any`) denies.
    //!
    //! A route that acts on one resource declares how it is loaded and which rule applies
    //! (`load = ...` with `owner = ...` or `relation = "..."`): the handler receives it as a
    //! [`Checked`] only once the rule passed. Relations (`owner` ⇒ `editor` ⇒ `viewer`, declared in
    //! `rampart.toml`) are kept as tuples in a [`Relations`] store; a list route reads the caller's
    //! [`Visibility`]. Plain axum code checks ownership with [`check_owner`]. Denials answer 404, so
    //! that a resource's existence is not revealed, unless the caller may see it (403).
    //!
    //! # Examples
    //!
    //! ```
    //! use rampart::authz::Policy;
    //!
    //! const DELETE: Policy = Policy::Any(&[Policy::Role("admin"), Policy::Scope("notes:write")]);
    //! assert_eq!(DELETE.to_string(), "any(role = \"admin\", scope = \"notes:write\")");
    //! ```

    pub use crate::guard::owner::{Owned, check_owner};
    pub use crate::guard::resource::{Checked, Load, Resource, Visibility};
    pub use crate::relations::{RelationRule, Relations, RelationsError, Tuple};
    pub use crate::vocabulary::contract::{Denied, Policy};
}

#[doc(hidden)]
pub use assembly::private as __private;

/// Declares a secured endpoint: its route, who may call it, and how often.
///
/// ```text
/// #[secure(post, path = "/notes", scope = "notes:write", rate = "10/min")]
/// ```
///
/// Arguments:
/// - the method (`get`, `post`, `put`, `patch`, `delete`, `head`, `options`) and `path = "/notes/{id}"`;
/// - the policy: `scope = "a"` or `scope = ["a", "b"]` (all required), `role = "admin"`,
///   `any(scope = "a", role = "admin")`, `all(...)`; several top-level items are all required;
///   none at all means "any authenticated caller";
/// - `rate = "10/min"` (`N/unit` or `N per unit`; units s, min, h, day), `burst = N`,
///   `rate_key = "sub" | "ip" | "client" | "api_key"` (default `sub`);
/// - `load = path::to_fn`, an async fn of extractors (path parameters, `State`) returning
///   `Result<Option<Resource>, Error>`, with a rule: `owner = path::to_fn` (`fn(&Principal,
///   &Resource) -> bool`) or `relation = "note#editor"` (declared in `rampart.toml`; the resource
///   implements [`authz::Resource`]). The handler takes the resource as an [`authz::Checked`]`<Resource>`,
///   which only the check builds (and still takes its `Path`, which documents the parameters); a missing resource and a caller who may not see it answer 404,
///   a caller who may see it but not do this 403;
/// - `relation = "..."` without `load`, on a list: the handler takes an [`authz::Visibility`] (what
///   the caller may see, for one query);
/// - `auth = ["bearer", "dpop", "api_key"]`: the credentials the route accepts, of those the
///   service accepts (default: all of them); another is refused with a 401 that challenges in
///   the accepted schemes, and the document lists only those ([`Accepts`]); `dpop = "required"`
///   is `auth = ["dpop"]`;
/// - `tags = ["notes"]`, `operation_id = "createNote"`, `summary = "..."` (default: the doc
///   comment's first paragraph), `deprecated`.
///
/// The function is replaced by a unit struct of the same name that implements [`Endpoint`];
/// mount it with [`Router::mount`]. The generated handler runs authentication, authorization and
/// the rate limit before any of the handler's own extractors read the request, so an
/// unauthenticated caller never learns anything about the body's schema.
///
/// When a `rampart.toml` next to the crate's `Cargo.toml` declares scopes and roles, any other
/// scope or role is a compile error with a suggestion.
///
/// # Examples
///
/// ```
/// use rampart::prelude::*;
///
/// /// Delete a note.
/// #[secure(delete, path = "/notes/{id}", any(role = "admin", scope = "notes:write"), rate = "30/min")]
/// async fn delete_note(user: Principal, axum::extract::Path(id): axum::extract::Path<u64>) -> String {
///     format!("{} deleted {id}", user.subject())
/// }
///
/// assert_eq!(delete_note::INFO.path, "/notes/{id}");
/// ```
pub use rampart_macros::secure;

/// Declares a deliberately public endpoint; the reason is required.
///
/// ```text
/// #[public(get, path = "/health", reason = "probed by the load balancer", rate = "60/min")]
/// ```
///
/// A public endpoint's `rate` is counted per client IP.
///
/// # Examples
///
/// ```
/// use rampart::prelude::*;
///
/// #[public(get, path = "/health", reason = "probed by the load balancer")]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// assert!(health::INFO.is_public());
/// ```
pub use rampart_macros::public;

/// Writes the garde rules of a struct's fields into the OpenAPI schema utoipa derives: `length`
/// (characters → `minLength`/`maxLength`, collections → `minItems`/`maxItems`), `range` →
/// `minimum`/`maximum`, literal `pattern`, `ascii`; rules without a JSON Schema equivalent (byte
/// lengths, `email`, `inner`, `custom`, ...) are said in the field's description. A key the
/// field's own `#[schema(...)]` sets is left as written. Place it above the derives.
///
/// # Examples
///
/// ```
/// use utoipa::PartialSchema as _;
///
/// #[rampart::schema_rules]
/// #[derive(serde::Deserialize, garde::Validate, utoipa::ToSchema)]
/// struct NewNote {
///     /// The title.
///     #[garde(length(chars, min = 1, max = 120))]
///     title: String,
///     #[garde(length(max = 10), inner(length(chars, min = 1, max = 32)))]
///     tags: Vec<String>,
/// }
///
/// let schema = serde_json::to_value(NewNote::schema()).unwrap();
/// assert_eq!(schema["properties"]["title"]["maxLength"], 120);
/// assert_eq!(schema["properties"]["tags"]["maxItems"], 10);
/// ```
pub use rampart_macros::schema_rules;

pub use assembly::secured::{RoutesGoBeforeSecured, SecuredRouter};
pub use endpoint::{
    Accepts, Access, Endpoint, EndpointHandler, EndpointInfo, Inventory, Method, RateKey, RateSpec, Router,
};
pub use error::Error;
pub use security::{Security, SecurityBuilder};
pub use serve::serve;
pub use stack::{SecurityFuture, SecurityLayer, SecurityService};

/// The names most services need.
pub mod prelude {
    pub use crate::Error;
    pub use crate::Security;
    pub use crate::auth::Principal;
    pub use crate::authz::Policy;
    pub use crate::error::OrInternal as _;
    pub use crate::extract::{Authorized, PolicySpec};
    pub use crate::{Router, public, secure};
}
