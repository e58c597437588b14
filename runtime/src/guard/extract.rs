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

use std::any::Any;
use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::Extensions;
use axum::http::request::Parts;
use garde::Validate;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::audit::{AuditEvent, Decision, RequestContext};
use crate::auth::Principal;
use crate::authz::Policy;
use crate::context::ContextSeed;
use crate::security;
use crate::validate::ValidatedBody;

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        authenticated(parts).await
    }
}

/// The caller when credentials are given (`Option<Principal>`, for an endpoint open to anyone that
/// greets a known caller by name): `None` when the request carries no `Authorization` or
/// `X-API-Key` header, the principal when its credential verifies, and 401 when it does not (a
/// client that sends a bad credential is told so, as on a secured endpoint).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        let given = parts.headers.contains_key(axum::http::header::AUTHORIZATION)
            || parts.headers.contains_key(crate::auth::API_KEY_HEADER);
        if !given && security::verified(parts).is_none() {
            return Ok(None);
        }
        authenticated(parts).await.map(Some)
    }
}

/// The caller: the one the guard verified, else authenticated now. The authentication future is
/// boxed, so that the usual case (verified) keeps the handler's future small: it is allocated and
/// moved on every request.
async fn authenticated(parts: &mut Parts) -> Result<Principal, Error> {
    if let Some(principal) = security::verified(parts) {
        return Ok(principal.clone());
    }
    let security = security::from_parts(parts)?;
    Box::pin(security.authenticate(parts)).await
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
        let principal = authenticated(parts).await?;
        security::from_parts(parts)?.authorize(parts, &principal, &P::POLICY)?;
        Ok(Authorized(principal, PhantomData))
    }
}

/// Emits the audit event of a rejected input and passes the error on.
fn audited(ctx: &RequestContext, principal: Option<&Principal>, error: Error) -> Error {
    let mut event = AuditEvent::new(ctx, Decision::Deny, error.reason(), error.status().as_u16());
    if let Some(principal) = principal {
        event = event.principal(principal);
    }
    event.emit();
    error
}

/// The verified caller of this request, if any (for audit events).
fn verified(parts: &Parts) -> Option<Principal> {
    crate::security::verified(parts).cloned()
}

/// Validates `value` with its garde context: an `axum::Extension(context)` layered on the router,
/// or `()` for types without one.
fn check<T: Validate>(value: T, extensions: &Extensions) -> Result<T, Error>
where
    T::Context: Clone + Send + Sync + 'static,
{
    let context = validation_context::<T::Context>(extensions)?;
    value.validate_with(&context).map(|()| value).map_err(Error::from)
}

fn validation_context<C: Clone + Send + Sync + 'static>(extensions: &Extensions) -> Result<C, Error> {
    if let Some(context) = extensions.get::<C>() {
        return Ok(context.clone());
    }
    (&() as &dyn Any).downcast_ref::<C>().cloned().ok_or_else(|| {
        Error::Internal(
            format!(
                "no garde context `{}` for this request: layer `axum::Extension(context)` on the router",
                std::any::type_name::<C>()
            )
            .into(),
        )
    })
}

/// A JSON body, deserialized strictly and validated with garde before the handler runs.
///
/// Rejections are [`Error`]s, audited: 415 without `application/json`, 400 for malformed JSON
/// (line and column, never the payload), 413 past the body limit, 422 for a wrong type, an unknown
/// field (with `#[serde(deny_unknown_fields)]`), a duplicate field, or a failed garde rule, one
/// entry per field with its JSON pointer.
///
/// A type validated with a garde context (`#[garde(context(Limits))]`) gets it from an
/// `axum::Extension(Limits { .. })` layered on the router; when none is there the request fails
/// with 500 rather than go unvalidated.
///
/// # Examples
///
/// ```
/// use rampart::extract::Json;
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct Input {
///     #[garde(length(chars, min = 1, max = 120))]
///     title: String,
/// }
///
/// async fn create(Json(input): Json<Input>) -> String {
///     input.title
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// Extracts with axum's extractor `X`, validates what it holds, audits a rejection.
async fn validated_body<S, X, T>(request: Request, state: &S, inner: fn(X) -> T) -> Result<T, Error>
where
    S: Send + Sync,
    X: FromRequest<S>,
    Error: From<X::Rejection>,
    T: Validate,
    T::Context: Clone + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    // What an audit event needs, taken before the request is consumed: reference counts only,
    // turned into a context on a rejection.
    let seed = ContextSeed::capture(&parts);
    let principal = verified(&parts);
    let reject = |error| audited(&seed.context(), principal.as_ref(), error);
    let context = validation_context::<T::Context>(&parts.extensions).map_err(reject)?;
    let extracted = X::from_request(Request::from_parts(parts, body), state).await;
    extracted
        .map_err(Error::from)
        .and_then(|x| -> Result<T, Error> {
            let value = inner(x);
            value.validate_with(&context).map(|()| value).map_err(<Error as From<garde::Report>>::from)
        })
        .map_err(reject)
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
    T::Context: Clone + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        validated_body(request, state, |axum::Json(value): axum::Json<T>| value).await.map(Json)
    }
}

impl<T: Validate> ValidatedBody for Json<T> {}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// A form body (`application/x-www-form-urlencoded`), deserialized and validated like [`Json`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
    T::Context: Clone + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        validated_body(request, state, |axum::Form(value): axum::Form<T>| value).await.map(Form)
    }
}

impl<T: Validate> ValidatedBody for Form<T> {}

/// `axum::extract::Path` whose rejection is [`Error`] (400 for a malformed parameter). Wrap it
/// in [`Valid`] to validate a struct of parameters.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejection is [`Error`] (400 for a malformed query). Wrap it in
/// [`Valid`] to validate the parameters.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Validated query or path parameters: `Valid<Query<T>>`, `Valid<Path<T>>` with
/// `T: garde::Validate`; failures are 422 with pointers, audited.
///
/// # Examples
///
/// ```
/// use rampart::extract::{Query, Valid};
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct Page {
///     #[garde(range(min = 1, max = 100))]
///     limit: u32,
/// }
///
/// async fn list(Valid(Query(page)): Valid<Query<Page>>) -> String {
///     page.limit.to_string()
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<E>(pub E);

impl<S, T> FromRequestParts<S> for Valid<Query<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
    T::Context: Clone + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let extracted = Query::<T>::from_request_parts(parts, state).await;
        match extracted.and_then(|Query(value)| check(value, &parts.extensions)) {
            Ok(value) => Ok(Valid(Query(value))),
            Err(error) => Err(audited(&RequestContext::from_parts(parts), verified(parts).as_ref(), error)),
        }
    }
}

impl<S, T> FromRequestParts<S> for Valid<Path<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate + Send,
    T::Context: Clone + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let extracted = Path::<T>::from_request_parts(parts, state).await;
        match extracted.and_then(|Path(value)| check(value, &parts.extensions)) {
            Ok(value) => Ok(Valid(Path(value))),
            Err(error) => Err(audited(&RequestContext::from_parts(parts), verified(parts).as_ref(), error)),
        }
    }
}
// What Rampart's extractors contribute to their operation's OpenAPI description.
crate::openapi::describe::bodies! {
    Json<T> => crate::openapi::describe::JSON,
    Form<T> => crate::openapi::describe::FORM,
}
crate::openapi::describe::params! {
    Query<T> => ::utoipa::openapi::path::ParameterIn::Query,
    Valid<Query<T>> => ::utoipa::openapi::path::ParameterIn::Query,
}
crate::openapi::describe::path_params! {
    Path<T>,
    Valid<Path<T>>,
}
