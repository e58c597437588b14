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

pub mod audit;
pub mod auth;
pub mod authz;
pub mod client_ip;
pub mod config;
pub mod context;
pub mod cors;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod headers;
mod security;
pub mod tls;
pub mod token;

pub use error::Error;
pub use security::{Security, SecurityBuilder};

/// The names most services need.
pub mod prelude {
    pub use crate::Error;
    pub use crate::Security;
    pub use crate::auth::Principal;
    pub use crate::authz::Policy;
    pub use crate::extract::{Authorized, PolicySpec};
}
