//! CORS from an explicit allowlist (tower-http), refusing the dangerous combinations at start-up.
//!
//! Responses expose to the calling page the headers a client acts on ([`EXPOSED_HEADERS`]):
//! `RateLimit`, `RateLimit-Policy` and `Retry-After` (when to call again), `X-Request-Id` (what to
//! quote in a support request), `WWW-Authenticate` (why a call was refused) and `DPoP-Nonce` (the
//! nonce the next DPoP proof carries). Without
//! `Access-Control-Expose-Headers` a browser hides them from scripts.
//!
//! # Examples
//!
//! ```
//! use rampart::cors::CorsPolicy;
//!
//! let layer = CorsPolicy::allow_origins(["https://app.example"]).with_credentials(true).into_layer().unwrap();
//! assert!(CorsPolicy::allow_origins(["*"]).with_credentials(true).into_layer().is_err());
//! ```

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The response headers a cross-origin page may read.
pub const EXPOSED_HEADERS: [&str; 6] =
    ["ratelimit", "ratelimit-policy", "retry-after", "x-request-id", "www-authenticate", "dpop-nonce"];

/// The request headers a cross-origin page may send: the credentials Rampart reads
/// (`Authorization`, `X-API-Key`, and the `DPoP` proof of a browser DPoP client) and the body's type.
pub const ALLOWED_HEADERS: [&str; 4] = ["authorization", "content-type", "x-api-key", "dpop"];

/// A CORS configuration that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsError {
    /// `*` together with credentials would let any site act with the user's cookies.
    #[error("CORS origin `*` cannot be combined with credentials; list the allowed origins instead")]
    WildcardWithCredentials,
    /// An origin that is not `scheme://host[:port]`.
    #[error("`{0}` is not a CORS origin (expected `https://host[:port]`, no path)")]
    BadOrigin(String),
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
    credentials: bool,
}

impl CorsPolicy {
    /// Allows these origins (`*` for any, without credentials).
    pub fn allow_origins<S: Into<String>>(origins: impl IntoIterator<Item = S>) -> Self {
        Self { origins: origins.into_iter().map(Into::into).collect(), credentials: false }
    }

    /// Allows credentials (cookies, `Authorization`) on cross-origin requests.
    pub fn with_credentials(mut self, on: bool) -> Self {
        self.credentials = on;
        self
    }

    /// Whether any origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The tower-http layer.
    ///
    /// # Errors
    ///
    /// [`CorsError`] for `*` with credentials or a malformed origin.
    pub fn into_layer(self) -> Result<CorsLayer, CorsError> {
        let wildcard = self.origins.iter().any(|o| o == "*");
        if wildcard && self.credentials {
            return Err(CorsError::WildcardWithCredentials);
        }
        let allow_origin = if wildcard {
            AllowOrigin::any()
        } else {
            let mut values = Vec::new();
            for origin in &self.origins {
                let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.trim_start_matches("https://").trim_start_matches("http://").contains('/');
                let value = HeaderValue::from_str(origin).ok().filter(|_| valid);
                values.push(value.ok_or_else(|| CorsError::BadOrigin(origin.clone()))?);
            }
            AllowOrigin::list(values)
        };
        Ok(CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_credentials(self.credentials)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers(ALLOWED_HEADERS.map(header::HeaderName::from_static))
            .expose_headers(EXPOSED_HEADERS.map(header::HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)))
    }
}
