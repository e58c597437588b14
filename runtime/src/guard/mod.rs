//! The guard: what runs between a request and an endpoint's handler.
//!
//! An endpoint's checks are one ordered list ([`checks`]), declared once:
//!
//! | secured endpoint | public endpoint |
//! |---|---|
//! | 1. [`Check::Authenticate`]: the credential (bearer token or API key) is verified | |
//! | 2. [`Check::SubjectLock`]: the subject is not locked out for failed authorizations | |
//! | 3. [`Check::Authorize`]: the policy (scopes, roles) allows the principal | |
//! | 4. [`Check::RateLimit`]: the route's quota, per subject (or client, API key, IP) | 1. [`Check::RateLimit`], per client IP |
//!
//! then the body limit and deadline are put on the request, and the handler runs: its own
//! extractors (body, path and query parameters, validation) come last, so nothing reads the
//! body of a request the guard refuses. A route that acts on one resource (`load = ...`) has one
//! more check there, before the body is read: its [`crate::authz::Checked`] argument loads the
//! resource and applies the route's rule (owner or relation), answering 404 (missing, or not
//! the caller's to see) or 403 (seen, but not the caller's to change) otherwise.
//!
//! Both ways of running the list walk this same list, so the order cannot differ between them:
//!
//! - **without waiting** (`check_now`): each check is asked whether it can allow the request
//!   now (a token in the verification cache, stores in memory). When all can, the handler is
//!   called at once and its future is wrapped, not boxed;
//! - **waiting** (`Waiting::resume`): from the first check that cannot answer now, each check
//!   runs in full, awaiting what it needs (a first verification, a JWKS fetch, Redis) and
//!   answering and auditing its denials (401, 403, 429, 503). The checks passed without waiting
//!   are not run again.
//!
//! `route` makes the axum handler (one per endpoint) that runs the guard, then the endpoint's
//! handler, and finishes its response. The handler's own extractors ([`extract`], with
//! [`validate`]) and the resource check ([`crate::authz::Checked`], [`crate::authz::Visibility`])
//! are the guard's too: they read what the checks above established.

#![allow(clippy::result_large_err, reason = "a denial is a finished `Response`, returned as is")]

mod checks;
pub mod extract;
mod limit;
pub(crate) mod owner;
pub(crate) mod resource;
mod route;
mod service;
pub mod validate;

pub use checks::{Check, checks};
#[doc(hidden)]
pub use route::{Guarded, GuardedFuture, Installation, endpoint_route};
pub(crate) use service::service_route;

/// The marker of handlers without arguments (nothing to infer).
#[doc(hidden)]
#[derive(Debug)]
pub enum NoArguments {}
