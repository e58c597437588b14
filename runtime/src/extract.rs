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
