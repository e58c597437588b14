//! Negative tests for free: walk a router's inventory and check, for every secured endpoint, that
//! no token gets 401, a token without the declared scopes and roles gets 403, and a token with
//! them gets past authentication and authorization; public endpoints must not ask for a token.
//!
//! # Examples
//!
//! ```
//! use rampart::prelude::*;
//! use rampart::testing::{TokenGrant, check_endpoints};
//! # use rampart::auth::{Algorithm, Authenticator, Issuer, JwtVerifier, VerificationKey};
//!
//! #[secure(get, path = "/me", scope = "profile:read")]
//! async fn me(user: Principal) -> String {
//!     user.subject().to_owned()
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
//! let key = VerificationKey::from_secret(Algorithm::HS256, SECRET).unwrap();
//! let issuer = Issuer::builder("iss", ["aud"]).key(key).build().unwrap();
//! let security = Security::new(Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).build().unwrap());
//! let router = Router::new().mount(me);
//! let inventory = router.inventory().to_vec();
//! let app = router.secured(&security);
//! let mint = |grant: &TokenGrant| {
//!     rampart::token::TokenRequest::new("tester", "iss", "aud")
//!         .scopes(&grant.scopes)
//!         .roles(&grant.roles)
//!         .sign_hs256(SECRET)
//!         .unwrap()
//! };
//! let report = check_endpoints(&app, &inventory, mint).await;
//! assert!(report.failures.is_empty(), "{report}");
//! assert_eq!(report.checked, 3);
//! # });
//! ```

use std::fmt;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use crate::contract::{Access, EndpointInfo};

/// The scopes and roles a test token must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenGrant {
    /// Scopes to grant.
    pub scopes: Vec<String>,
    /// Roles to give.
    pub roles: Vec<String>,
}

/// What [`check_endpoints`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// How many requests were checked.
    pub checked: usize,
    /// One line per endpoint that did not behave as declared.
    pub failures: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} checks, {} failures", self.checked, self.failures.len())?;
        for failure in &self.failures {
            writeln!(f, "  {failure}")?;
        }
        Ok(())
    }
}

fn request(info: &EndpointInfo, token: Option<&str>) -> Request<Body> {
    // Path parameters get a plausible value; the checks only look at 401/403.
    let mut path = String::new();
    let mut rest = info.path;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        path.push('1');
        rest = rest[open..].find('}').map_or("", |close| &rest[open + close + 1..]);
    }
    path.push_str(rest);
    let mut builder =
        Request::builder().method(info.method.as_str()).uri(path).header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::from("{}")).unwrap_or_default()
}

/// Sends the three checks to each endpoint of `inventory` through `app`, minting tokens with
/// `mint`.
pub async fn check_endpoints(
    app: &(impl Into<axum::Router> + Clone),
    inventory: &[&'static EndpointInfo],
    mint: impl Fn(&TokenGrant) -> String,
) -> Report {
    let app: &axum::Router = &app.clone().into();
    let mut report = Report::default();
    for info in inventory {
        let status = move |request: Request<Body>| async move {
            app.clone().oneshot(request).await.map(|r| r.status()).unwrap_or_default()
        };
        match &info.access {
            Access::Public { .. } => {
                let got = status(request(info, None)).await;
                report.checked += 1;
                if matches!(got, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    report.failures.push(format!("{info}: public, but answered {got} without a token"));
                }
            }
            Access::Secured(policy) => {
                let got = status(request(info, None)).await;
                report.checked += 1;
                if got != StatusCode::UNAUTHORIZED {
                    report.failures.push(format!("{info}: no token answered {got}, expected 401"));
                }
                let full = TokenGrant {
                    scopes: policy.scopes().iter().map(|s| (*s).to_owned()).collect(),
                    roles: policy.roles().iter().map(|r| (*r).to_owned()).collect(),
                };
                if full != TokenGrant::default() {
                    let got = status(request(info, Some(&mint(&TokenGrant::default())))).await;
                    report.checked += 1;
                    if got != StatusCode::FORBIDDEN {
                        report
                            .failures
                            .push(format!("{info}: a token without scopes or roles answered {got}, expected 403"));
                    }
                }
                let got = status(request(info, Some(&mint(&full)))).await;
                report.checked += 1;
                if matches!(got, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    report.failures.push(format!("{info}: a token with {full:?} answered {got}"));
                }
            }
        }
    }
    report
}
