//! One error type for every way a request can fail, rendered as RFC 9457 `application/problem+json`.
//!
//! [`Error`] is the only place where an HTTP status is chosen. Authentication failures carry the
//! RFC 6750 `WWW-Authenticate` challenge; nothing in a response echoes the token, the request body
//! or an internal error message (those go to the logs, never to the client).
//!
//! # Examples
//!
//! ```
//! use axum::response::IntoResponse;
//! use rampart::Error;
//!
//! let response = Error::NotFound.into_response();
//! assert_eq!(response.status(), 404);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::vocabulary::auth_error::AuthError;

/// A boxed error for [`Error::Internal`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every way a request can fail. The only type that picks an HTTP status.
///
/// # Examples
///
/// ```
/// use axum::response::IntoResponse;
/// use rampart::Error;
///
/// let response = Error::InsufficientScope { required: "notes:write".into() }.into_response();
/// assert_eq!(response.status(), 403);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer error="insufficient_scope", scope="notes:write""#
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: no credentials, or credentials that do not verify.
    #[error("{}", .0.description())]
    Unauthenticated(#[source] Unauthenticated),
    /// 403: authenticated, but the policy denies. `required` lists the scopes that would satisfy it.
    #[error("this operation requires more privileges")]
    InsufficientScope {
        /// Space-separated scopes the caller lacks (may be empty when a role is what is missing).
        required: String,
    },
    /// 403 without a scope challenge: the caller has every scope the policy asks for but not the
    /// role (roles come from the identity provider; a new token with more scopes would not help).
    #[error("this operation requires a role you do not have: {required}")]
    InsufficientRole {
        /// Space-separated roles the caller lacks.
        required: String,
    },
    /// 403 without a scope challenge: the caller may see the resource, but its relation to it
    /// does not allow this operation (a viewer deleting a note).
    #[error("your access to this resource does not allow this operation")]
    Forbidden,
    /// 404: also used for resources the caller may not see, so that existence is not revealed.
    #[error("the resource was not found")]
    NotFound,
    /// 405: the route exists but not for this method.
    #[error("the method is not allowed on this resource")]
    MethodNotAllowed,
    /// 400: the request could not be parsed. The detail never echoes the payload.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 413: the body is larger than the route allows.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415: the body's media type is not the one the route accepts.
    #[error("{0}")]
    UnsupportedMediaType(Cow<'static, str>),
    /// 422: the input parsed but failed validation; one entry per failing field.
    #[error("the request failed validation")]
    Validation(Vec<FieldError>),
    /// 429: the caller exceeded a rate limit.
    #[error("too many requests")]
    RateLimited {
        /// When the caller may try again.
        retry_after: Duration,
    },
    /// 503: a dependency the decision needs is unavailable (for example a rate-limit store in
    /// `closed` failure mode).
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 408: the request body did not arrive within the body deadline
    /// (`RAMPART_BODY_TIMEOUT_SECS`).
    #[error("the request body was not received in time")]
    RequestTimeout,
    /// 503 with `Retry-After`: the handler did not answer within its deadline (the route's
    /// `timeout = "..."`, else `RAMPART_HANDLER_TIMEOUT_SECS`); its work was cancelled.
    #[error("the request took too long to process")]
    HandlerTimeout,
    /// 500: anything else. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// The authentication failure inside [`Error::Unauthenticated`], with the realm of the challenge.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Unauthenticated {
    reason: AuthError,
    realm: Arc<str>,
    /// A fresh DPoP nonce for the client's next proof (`DPoP-Nonce`), when the service requires
    /// them and the challenge is DPoP's.
    dpop_nonce: Option<String>,
}

impl Unauthenticated {
    /// Wraps an [`AuthError`] with the realm announced in `WWW-Authenticate`.
    pub fn new(reason: AuthError, realm: Arc<str>) -> Self {
        Self { reason, realm, dpop_nonce: None }
    }

    /// Sends `nonce` in `DPoP-Nonce` with the challenge.
    pub fn with_dpop_nonce(mut self, nonce: Option<String>) -> Self {
        self.dpop_nonce = nonce;
        self
    }

    /// Why authentication failed (for audit and logs, not for the client).
    pub fn reason(&self) -> &AuthError {
        &self.reason
    }

    fn description(&self) -> &'static str {
        self.reason.public_description()
    }

    /// The RFC 6750 §3 challenge: no `error` attribute when no credentials were sent (§3.1).
    fn challenge(&self) -> String {
        // One challenge per credential the route accepts, none with an error (RFC 9110 §11.6.1
        // allows several in one field).
        if let AuthError::NotAccepted(accepts) = &self.reason {
            let mut challenges = Vec::new();
            if accepts.bearer {
                challenges.push(format!("Bearer realm=\"{}\"", self.realm));
            }
            if accepts.dpop {
                let algs = crate::vocabulary::auth_error::DPOP_ALGORITHMS;
                challenges.push(format!("DPoP realm=\"{}\", algs=\"{algs}\"", self.realm));
            }
            if accepts.api_key {
                challenges.push(format!("ApiKey realm=\"{}\", header=\"X-API-Key\"", self.realm));
            }
            return challenges.join(", ");
        }
        if self.reason.concerns_dpop() {
            return format!(
                "DPoP realm=\"{}\", error=\"{}\", error_description=\"{}\", algs=\"{}\"",
                self.realm,
                self.reason.error_code().unwrap_or("invalid_token"),
                self.reason.public_description(),
                crate::vocabulary::auth_error::DPOP_ALGORITHMS
            );
        }
        if self.reason.concerns_api_key() {
            return format!(
                "ApiKey realm=\"{}\", header=\"X-API-Key\", error=\"invalid_key\", error_description=\"{}\"",
                self.realm,
                self.reason.public_description()
            );
        }
        let mut value = format!("Bearer realm=\"{}\"", self.realm);
        if let Some(code) = self.reason.error_code() {
            let _ = write!(value, ", error=\"{code}\", error_description=\"{}\"", self.reason.public_description());
        }
        value
    }
}

/// One failing field of a 422 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// A JSON pointer in URI fragment form (`#/tags/3`) to the failing value.
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A failing field at `pointer` (`#/title`).
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

impl From<garde::Report> for Error {
    fn from(report: garde::Report) -> Self {
        let errors = report
            .iter()
            .map(|(path, error)| FieldError::new(safe_pointer(&path.to_string()), error.message()))
            .collect();
        Error::Validation(errors)
    }
}

/// Turns garde's `tags[3].name` path into `#/tags/3/name`.
fn json_pointer(path: &str) -> String {
    let mut pointer = String::from("#");
    for segment in path.split(['.', '[']).filter(|s| !s.is_empty()) {
        pointer.push('/');
        let segment = segment.trim_end_matches(']');
        for ch in segment.chars() {
            match ch {
                '~' => pointer.push_str("~0"),
                '/' => pointer.push_str("~1"),
                other => pointer.push(other),
            }
        }
    }
    pointer
}

/// `.internal()` on any `Result` whose error is a store's or a library's: it becomes
/// [`Error::Internal`] (500; the source is logged, never sent), without a `map_err` per call.
///
/// # Examples
///
/// ```
/// use rampart::error::OrInternal as _;
///
/// fn parse(text: &str) -> Result<u64, rampart::Error> {
///     text.parse::<u64>().internal()
/// }
///
/// assert_eq!(parse("42").unwrap(), 42);
/// assert_eq!(parse("x").unwrap_err().status(), 500);
/// ```
pub trait OrInternal<T> {
    /// The value, or [`Error::Internal`] with the error as its source.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when `self` is an error.
    fn internal(self) -> Result<T, Error>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> OrInternal<T> for Result<T, E> {
    fn internal(self) -> Result<T, Error> {
        self.map_err(|error| Error::Internal(Box::new(error)))
    }
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::InsufficientScope { .. } | Error::InsufficientRole { .. } | Error::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable | Error::HandlerTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Error::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable reason, used in audit events (`invalid_token`, `insufficient_scope`,
    /// `insufficient_role`).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unauthenticated(u) => u.reason.audit_reason(),
            Error::InsufficientScope { .. } => "insufficient_scope",
            Error::InsufficientRole { .. } => "insufficient_role",
            Error::Forbidden => "insufficient_relation",
            Error::NotFound => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::BadRequest(_) => "malformed_request",
            Error::PayloadTooLarge => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Validation(_) => "invalid_input",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable => "unavailable",
            Error::RequestTimeout => "body_timeout",
            Error::HandlerTimeout => "handler_timeout",
            Error::Internal(_) => "internal_error",
        }
    }

    fn headers(&self) -> Vec<(HeaderName, String)> {
        match self {
            Error::Unauthenticated(u) => {
                let mut headers = vec![(WWW_AUTHENTICATE, u.challenge())];
                if let Some(nonce) = &u.dpop_nonce {
                    headers.push((HeaderName::from_static("dpop-nonce"), nonce.clone()));
                }
                headers
            }
            Error::InsufficientScope { required } => {
                let mut value = String::from("Bearer error=\"insufficient_scope\"");
                if !required.is_empty() {
                    let _ = write!(value, ", scope=\"{required}\"");
                }
                vec![(WWW_AUTHENTICATE, value)]
            }
            Error::RateLimited { retry_after } => {
                // Round up: a client that waits the announced time must be let through.
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                vec![(RETRY_AFTER, secs.max(1).to_string())]
            }
            Error::Unavailable | Error::HandlerTimeout => vec![(RETRY_AFTER, "1".to_owned())],
            Error::RequestTimeout => vec![(axum::http::header::CONNECTION, "close".to_owned())],
            _ => Vec::new(),
        }
    }
}

/// The RFC 9457 body.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

/// Renders a problem+json response for `status` with `detail`.
pub(crate) fn problem_response(status: StatusCode, detail: &str, errors: Option<&[FieldError]>) -> Response {
    let problem = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: Cow::Borrowed(detail),
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(err) = &self {
            tracing::error!(error = %err, "internal error");
        }
        let status = self.status();
        let errors = match &self {
            Error::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let mut response = problem_response(status, &self.to_string(), errors);
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                Error::UnsupportedMediaType("expected `content-type: application/json`".into())
            }
            JsonRejection::JsonDataError(err) => Error::Validation(vec![data_error(&err.body_text())]),
            JsonRejection::JsonSyntaxError(err) => Error::BadRequest(syntax_detail(&err.body_text()).into()),
            JsonRejection::BytesRejection(err) => body_error(err.status(), &err),
            _ => Error::BadRequest("the request body could not be read".into()),
        }
    }
}

impl From<FormRejection> for Error {
    fn from(rejection: FormRejection) -> Self {
        match rejection {
            FormRejection::InvalidFormContentType(_) => {
                Error::UnsupportedMediaType("expected `content-type: application/x-www-form-urlencoded`".into())
            }
            FormRejection::BytesRejection(err) => body_error(err.status(), &err),
            FormRejection::FailedToDeserializeFormBody(_) => {
                Error::Validation(vec![FieldError::new("#", "the form body does not match the expected fields")])
            }
            _ => Error::BadRequest("the form could not be read".into()),
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(_: QueryRejection) -> Self {
        Error::BadRequest("the query string does not match the expected parameters".into())
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => {
                Error::BadRequest("a path parameter has the wrong format".into())
            }
            PathRejection::MissingPathParams(_) => Error::Internal("missing path parameters".into()),
            _ => Error::BadRequest("the path could not be read".into()),
        }
    }
}

fn body_error(status: StatusCode, error: &(dyn std::error::Error + 'static)) -> Error {
    if is_body_timeout(error) {
        Error::RequestTimeout
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge
    } else {
        Error::BadRequest("the request body could not be read".into())
    }
}

/// serde_json's message is `... at line L column C`; keep the position, drop anything quoting input.
fn syntax_detail(body_text: &str) -> String {
    match body_text.rfind(" at line ") {
        Some(at) => format!("the body is not valid JSON{}", &body_text[at..]),
        None => "the body is not valid JSON".to_owned(),
    }
}

/// A JSON data error (wrong type, unknown or missing field) as a field error.
/// serde's messages name fields and expected types, never input values longer than a scalar.
fn data_error(body_text: &str) -> FieldError {
    // axum: "Failed to deserialize the JSON body into the target type: tags[0]: invalid type ..."
    let text = body_text.split_once("target type: ").map_or(body_text, |(_, rest)| rest);
    // "<path>: <message>", where the path may hold client-chosen keys (with spaces or colons):
    // split at the first serde message, and say nothing of an unrecognised one.
    const MESSAGES: [&str; 8] = [
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown field",
        "unknown variant",
        "missing field",
        "duplicate field",
        "data did not match",
    ];
    // The last one: a client-chosen key in the path may itself read like a message.
    let start = MESSAGES.iter().filter_map(|m| text.rfind(m)).max();
    let (path, message) = match start {
        Some(0) => ("", text),
        Some(at) if text[..at].ends_with(": ") => (&text[..at - 2], &text[at..]),
        _ => ("", "the body does not match the expected shape"),
    };
    let message = message.split(" at line ").next().unwrap_or(message);
    // The path names an unknown field too (serde_path_to_error's): it is echoed only when plain.
    let message: String = redact_names(&redact_values(message)).chars().take(200).collect();
    FieldError::new(safe_pointer(path), message)
}

/// The most characters of a path echoed in a pointer.
const MAX_ECHOED_PATH: usize = 128;

/// The pointer of `path`, when it is made of plain field names and indices (`tags[0]`,
/// `a.b_c`) and short: a path naming client-chosen keys in other characters, or a long one, is
/// reported as `#`, never echoed.
fn safe_pointer(path: &str) -> String {
    let plain =
        path.len() <= MAX_ECHOED_PATH && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b));
    if path.is_empty() || path == "." || !plain { "#".to_owned() } else { json_pointer(path) }
}

/// serde names a client-chosen field or variant (`unknown field `x`, expected ...`): the name
/// leaves the message (the pointer carries it when it is plain, see [`safe_pointer`]); the
/// expected names, which are the type's own, stay.
fn redact_names(message: &str) -> String {
    for (prefix, kind) in [("unknown field `", "unknown field"), ("unknown variant `", "unknown variant")] {
        if let Some((_, rest)) = message.strip_prefix(prefix).and_then(|rest| rest.split_once('`')) {
            return format!("{kind}{rest}");
        }
    }
    message.to_owned()
}

/// serde quotes the offending input (`invalid type: string "…", expected u32`): keep the kind,
/// drop the value, so that a 422 never echoes what the client sent.
fn redact_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((unexpected, expected)) =
            message.strip_prefix(prefix).and_then(|rest| rest.split_once(", expected"))
        {
            let kind = unexpected.split(['`', '"']).next().unwrap_or("").trim_end();
            return format!("{prefix}{kind}, expected{expected}");
        }
    }
    message.to_owned()
}

/// Middleware that turns any error response not already JSON (axum's plain-text rejections, its
/// empty 404 and 405, a panic-free 500 from a layer) into problem+json with the same status.
///
/// # Examples
///
/// ```
/// use axum::{Router, middleware, routing::get};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .layer(middleware::map_response(rampart::error::problem_for_plain_errors));
/// ```
pub async fn problem_for_plain_errors(response: Response) -> Response {
    problem_for_plain_response(response)
}

/// [`problem_for_plain_errors`] without the `async`: what the security layer runs on every
/// response.
pub fn problem_for_plain_response(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let media = v.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case("application/json") || media.ends_with("+json")
    });
    if is_json {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "the resource was not found",
        StatusCode::METHOD_NOT_ALLOWED => "the method is not allowed on this resource",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "the request has an unsupported media type",
        StatusCode::REQUEST_TIMEOUT => "the request took too long",
        s if s.is_server_error() => "internal error",
        _ => "the request could not be processed",
    };
    let (mut parts, _) = response.into_parts();
    let fresh = problem_response(status, detail, None);
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, body)
}

/// The error a body yields when its deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// Whether `error`, or anything in its source chain, is a [`BodyTimedOut`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garde_paths_become_json_pointers() {
        assert_eq!(json_pointer("tags[3]"), "#/tags/3");
        assert_eq!(json_pointer("a.b[0].c"), "#/a/b/0/c");
        assert_eq!(json_pointer("we/ird~"), "#/we~1ird~0");
    }

    #[test]
    fn syntax_detail_keeps_position_only() {
        assert_eq!(
            syntax_detail("Failed to parse the request body as JSON: key must be a string at line 1 column 2"),
            "the body is not valid JSON at line 1 column 2"
        );
    }

    #[test]
    fn data_error_names_the_field() {
        let e = data_error(
            "Failed to deserialize the JSON body into the target type: title: invalid type: integer `3`, expected a string at line 1 column 11",
        );
        assert_eq!(e.pointer, "#/title");
        assert_eq!(e.detail, "invalid type: integer, expected a string");
    }

    #[test]
    fn input_values_are_not_echoed() {
        assert_eq!(
            redact_values("invalid type: string \"s3cr3t\", expected u32"),
            "invalid type: string, expected u32"
        );
        assert_eq!(redact_values("invalid value: integer `-1`, expected u32"), "invalid value: integer, expected u32");
        assert_eq!(
            redact_names("unknown field `owner`, expected one of `title`, `body`"),
            "unknown field, expected one of `title`, `body`"
        );
        assert_eq!(redact_values("duplicate field `title`"), "duplicate field `title`");
    }

    #[test]
    fn retry_after_rounds_up() {
        let e = Error::RateLimited { retry_after: Duration::from_millis(1500) };
        assert_eq!(e.headers()[0].1, "2");
    }
}
