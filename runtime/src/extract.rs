//! Extractors for plain axum handlers: [`Principal`] (authenticated) and [`Authorized`]
//! (authenticated and allowed by a policy). Both reject with [`Error`] (problem+json).
//!
//! # Examples
//!
//! ```
//! use rampart::authz::Policy;
//! use rampart::extract::{Authorized, PolicySpec};
//!
//! struct NotesWrite;
//! impl PolicySpec for NotesWrite {
//!     const POLICY: Policy = Policy::Scope("notes:write");
//! }
//!
//! async fn create(Authorized(principal, ..): Authorized<NotesWrite>) -> String {
//!     format!("hello {}", principal.subject())
//! }
//! ```

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::Error;
use crate::auth::Principal;
use crate::authz::Policy;
use crate::security;

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        security::from_parts(parts)?.authenticate(parts).await
    }
}

/// A policy known at compile time, for [`Authorized`].
pub trait PolicySpec {
    /// The policy.
    const POLICY: Policy;
}

/// The caller, authenticated and allowed by `P`'s policy.
#[derive(Debug, Clone)]
pub struct Authorized<P>(pub Principal, pub PhantomData<P>);

impl<P> Authorized<P> {
    /// The authenticated caller.
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync, P: PolicySpec> FromRequestParts<S> for Authorized<P> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let security = security::from_parts(parts)?;
        let principal = security.authenticate(parts).await?;
        security.authorize(parts, &principal, &P::POLICY)?;
        Ok(Authorized(principal, PhantomData))
    }
}

/// `axum::Json` whose rejection is [`Error`]: 415 without `application/json`, 400 for malformed
/// JSON (with line and column, never the payload), 422 naming the field of a type mismatch,
/// 413 past the body limit.
///
/// # Examples
///
/// ```
/// use rampart::extract::Json;
///
/// #[derive(serde::Deserialize)]
/// struct Input { title: String }
///
/// async fn create(Json(input): Json<Input>) -> String {
///     input.title
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejection is [`Error`] (400 for a malformed parameter).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejection is [`Error`] (400 for a malformed query).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// `axum::Form` whose rejection is [`Error`] (415, 413, 422).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Form), rejection(Error))]
pub struct Form<T>(pub T);
