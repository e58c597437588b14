//! The benchmarked variants of one small JSON endpoint (GET, and POST with a validated body):
//! plain axum, the hand-written stack a careful axum user writes today, Rampart `#[public]` and
//! Rampart `#[secure]`. Shared by the `overhead` harness and the `profile` driver.
#![allow(missing_docs, unreachable_pub, reason = "benchmark fixtures")]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use garde::Validate as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rampart::config::Config;
use rampart::prelude::*;
use rampart::token::TokenRequest;
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;

pub const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";
pub const ISSUER: &str = "rampart-dev";
/// What a service accepts in development when `RAMPART_JWT_AUDIENCE` is unset.
pub const AUDIENCE: &str = rampart::config::DEVELOPMENT_AUDIENCE;
pub const SUBJECTS: usize = 16;

/// The response of every variant.
#[derive(Debug, Serialize)]
struct Item {
    id: u64,
    name: String,
    quantity: u32,
    tags: Vec<String>,
}

/// The POST body of every variant: the same JSON, the same garde rules.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct NewItem {
    #[garde(length(chars, min = 1, max = 120))]
    name: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    tags: Vec<String>,
}

fn item() -> Item {
    Item { id: 42, name: "widget".into(), quantity: 3, tags: vec!["blue".into(), "small".into()] }
}

fn created(input: NewItem) -> (StatusCode, axum::Json<Item>) {
    (StatusCode::CREATED, axum::Json(Item { id: 43, name: input.name, quantity: input.quantity, tags: input.tags }))
}

// ---- 1. plain axum ----

pub fn plain() -> axum::Router {
    // `with_state(())` converts the handlers to routes once: the fastest plain axum can be.
    axum::Router::new()
        .route(
            "/item",
            get(|| async { axum::Json(item()) })
                .post(|axum::Json(input): axum::Json<NewItem>| async move { created(input) }),
        )
        .with_state(())
}

// ---- 2. the hand-written stack ----

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
}

struct Handwritten {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    limiter: DefaultKeyedRateLimiter<String>,
}

async fn handwritten_guard(State(hw): State<Arc<Handwritten>>, request: Request, next: Next) -> Response {
    let token =
        request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else { return StatusCode::UNAUTHORIZED.into_response() };
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &hw.key, &hw.validation) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let needed = if request.method() == axum::http::Method::POST { "bench:write" } else { "bench:read" };
    if !data.claims.scope.split(' ').any(|s| s == needed) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if hw.limiter.check_key(&data.claims.sub).is_err() {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    next.run(request).await
}

/// The hand-written stack verifying HS256 tokens signed with [`SECRET`].
pub fn handwritten() -> axum::Router {
    handwritten_with(Signing::Hs256)
}

/// How the benchmark's tokens are signed: an HMAC secret, or the ES256 key pair of the test
/// fixtures (`tests/fixtures/keys/ec.{key,pub}.pem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Hs256,
    Es256,
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys").join(name)
}

impl Signing {
    /// The PEM file of the ES256 public key.
    pub fn public_key_file() -> std::path::PathBuf {
        fixture("ec.pub.pem")
    }

    fn algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }

    fn decoding_key(self) -> jsonwebtoken::DecodingKey {
        match self {
            Self::Hs256 => jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).expect("a key"),
            Self::Es256 => {
                let pem = std::fs::read(Self::public_key_file()).expect("the ES256 fixture");
                jsonwebtoken::DecodingKey::from_ec_pem(&pem).expect("an EC public key")
            }
        }
    }

    /// A key to sign this kind of token with.
    pub fn encoding_key(self) -> jsonwebtoken::EncodingKey {
        match self {
            Self::Hs256 => jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("a key"),
            Self::Es256 => {
                let pem = std::fs::read(fixture("ec.key.pem")).expect("the ES256 fixture");
                jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("an EC private key")
            }
        }
    }

    /// A token for `sub` with `scopes`, valid for an hour.
    pub fn token(self, sub: &str, scopes: &[&str], key: &jsonwebtoken::EncodingKey) -> String {
        TokenRequest::new(sub, ISSUER, AUDIENCE)
            .scopes(scopes)
            .ttl(Duration::from_secs(3600))
            .sign(self.algorithm(), key)
            .expect("a token")
    }

    /// The settings that make Rampart verify this kind of token.
    pub fn settings(self) -> Vec<(&'static str, String)> {
        match self {
            Self::Hs256 => vec![("RAMPART_JWT_SECRET", SECRET.to_owned())],
            Self::Es256 => vec![
                ("RAMPART_JWT_PUBLIC_KEY", Self::public_key_file().display().to_string()),
                ("RAMPART_JWT_ALGORITHM", "ES256".to_owned()),
            ],
        }
    }
}

/// The hand-written stack verifying tokens of `signing`.
pub fn handwritten_with(signing: Signing) -> axum::Router {
    let mut validation = jsonwebtoken::Validation::new(signing.algorithm());
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap_or(NonZeroU32::MIN));
    let state = Arc::new(Handwritten { key: signing.decoding_key(), validation, limiter: RateLimiter::keyed(quota) });
    let header = |name, value: &'static str| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    axum::Router::new()
        .route(
            "/item",
            get(|| async { axum::Json(item()) }).post(|axum::Json(input): axum::Json<NewItem>| async move {
                match input.validate() {
                    Ok(()) => created(input).into_response(),
                    Err(_) => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
                }
            }),
        )
        .with_state(())
        .layer(axum::middleware::from_fn_with_state(state, handwritten_guard))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(X_FRAME_OPTIONS, "DENY"))
        .layer(header(REFERRER_POLICY, "no-referrer"))
        .layer(header(CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
        .layer(header(CACHE_CONTROL, "no-store"))
}

// ---- 3 and 4. Rampart ----

/// Public GET.
#[public(get, path = "/public", reason = "benchmark")]
async fn public_get() -> axum::Json<Item> {
    axum::Json(item())
}

/// Public POST, validated.
#[public(post, path = "/public", reason = "benchmark")]
async fn public_post(rampart::extract::Json(input): rampart::extract::Json<NewItem>) -> (StatusCode, axum::Json<Item>) {
    created(input)
}

/// Secured GET.
#[secure(get, path = "/secure", scope = "bench:read", rate = "1000000/s")]
async fn secure_get(_user: Principal) -> axum::Json<Item> {
    axum::Json(item())
}

/// Secured POST, validated.
#[secure(post, path = "/secure", scope = "bench:write", rate = "1000000/s")]
async fn secure_post(
    _user: Principal,
    rampart::extract::Json(input): rampart::extract::Json<NewItem>,
) -> (StatusCode, axum::Json<Item>) {
    created(input)
}

/// Rampart verifying HS256 tokens signed with [`SECRET`], every other setting at its default.
pub fn rampart_app() -> axum::Router {
    rampart_app_with(&Signing::Hs256.settings())
}

/// The settings of `settings` (`RAMPART_*` name, value), every other at its default.
pub fn rampart_config(settings: &[(&str, String)]) -> Config {
    let lookup = |name: &str| settings.iter().find(|(n, _)| *n == name).map(|(_, value)| value.clone());
    Config::from_lookup(lookup).expect("config")
}

/// Rampart with `settings` (`RAMPART_*` name, value), every other at its default.
pub fn rampart_app_with(settings: &[(&str, String)]) -> axum::Router {
    let security = Security::from_config(&rampart_config(settings)).expect("security");
    Router::new()
        .mount(public_get)
        .mount(public_post)
        .mount(secure_get)
        .mount(secure_post)
        .secured(&security)
        .into_axum()
}

// ---- the harness ----

pub fn token(sub: &str, scopes: &[&str], secret: &str) -> String {
    TokenRequest::new(sub, ISSUER, AUDIENCE)
        .scopes(scopes)
        .ttl(Duration::from_secs(3600))
        .sign_hs256(secret.as_bytes())
        .expect("a token")
}

pub fn body() -> String {
    serde_json::json!({"name": "widget", "quantity": 3, "tags": ["blue", "small", "sale"]}).to_string()
}
