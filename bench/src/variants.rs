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
pub const AUDIENCE: &str = "notes";
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

pub fn handwritten() -> axum::Router {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap_or(NonZeroU32::MIN));
    let state = Arc::new(Handwritten {
        key: jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).expect("a key"),
        validation,
        limiter: RateLimiter::keyed(quota),
    });
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

pub fn rampart_app() -> axum::Router {
    let config = Config::from_lookup(|name| (name == "RAMPART_JWT_SECRET").then(|| SECRET.to_owned())).expect("config");
    let security = Security::from_config(&config).expect("security");
    Router::new().mount(public_get).mount(public_post).mount(secure_get).mount(secure_post).secured(&security)
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
