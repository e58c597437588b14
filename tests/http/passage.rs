//! What `Router::secured` does without a layer: every endpoint makes the security layer's passage
//! itself (request id, secure headers, problem+json), the 404 and 405 answers go through it too,
//! merged routers are secured with the router they were merged into, and a router finished with
//! `into_axum` is secured by `Security::apply` instead. The guard's fast path (a cached token,
//! stores in memory) decides as the full path does.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::auth::{MemoryRevocations, Principal, Revocations as _};
use rampart::{Router, Security, public, secure};
use rampart_tests::*;

/// Who am I.
#[secure(get, path = "/me", scope = "notes:read", rate = "1000/min")]
async fn me(user: Principal) -> String {
    user.subject().to_owned()
}

/// Liveness.
#[public(get, path = "/health", reason = "probed by the load balancer")]
async fn health() -> &'static str {
    "ok"
}

fn security() -> Security {
    Security::new(authenticator(&[Scheme::Hs256]))
}

fn reader(subject: &str) -> String {
    Scheme::Hs256.token(&claims(subject, "notes:read"))
}

#[tokio::test]
async fn not_found_and_method_not_allowed_go_through_the_passage() {
    let app = Router::new().mount(me).mount(health).secured(&security());
    let not_found = send(&app, get_with_token("/nowhere", &reader("alice"))).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_security_headers(&not_found);
    assert_eq!(not_found.header("content-type"), "application/problem+json");
    assert_eq!(not_found.json()["status"], 404);

    let not_allowed = send(&app, Request::delete("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(not_allowed.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(&not_allowed);
    assert_eq!(not_allowed.header("content-type"), "application/problem+json");
    assert_eq!(not_allowed.header("allow"), "GET,HEAD");

    let ok = send(&app, get_with_token("/me", &reader("alice"))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_security_headers(&ok);
    assert_eq!(ok.header("ratelimit-policy"), "\"default\";q=1000;w=60");
}

#[tokio::test]
async fn a_plain_client_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = Router::new().mount(health).secured(&security());
    let request = |id: &str| Request::get("/health").header("x-request-id", id).body(Body::empty()).unwrap();
    assert_eq!(send(&app, request("trace-42")).await.header("x-request-id"), "trace-42");
    let replaced = send(&app, request("two words")).await.header("x-request-id").to_owned();
    assert_eq!(replaced.len(), 24, "a fresh id: {replaced}");
    assert!(replaced.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn merged_routers_are_secured_with_the_router_they_joined() {
    let app = Router::new().mount(health).merge(Router::new().mount(me)).secured(&security());
    let reply = send(&app, get_with_token("/me", &reader("alice"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body, "alice");
    assert_security_headers(&reply);
    assert_eq!(send(&app, Request::get("/me").body(Body::empty()).unwrap()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn into_axum_is_secured_by_the_layer_and_never_left_open() {
    let bare = Router::new().mount(me).into_axum();
    let refused = send(&bare, get_with_token("/me", &reader("alice"))).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR, "without the layer: refused, not skipped");

    let app = security().apply(Router::new().mount(me).into_axum());
    let ok = send(&app, get_with_token("/me", &reader("alice"))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_security_headers(&ok);
    let missing = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_security_headers(&missing);
}

#[tokio::test]
async fn a_secured_router_layered_again_keeps_one_request_id() {
    let security = security();
    let app = security.apply(Router::new().mount(health).secured(&security).into_axum());
    let reply =
        send(&app, Request::get("/health").header("x-request-id", "outer-1").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers.get_all("x-request-id").iter().count(), 1);
    assert_eq!(reply.header("x-request-id"), "outer-1");
}

#[tokio::test]
async fn the_fast_path_sees_a_revocation_and_a_missing_scope_at_once() {
    let revocations = Arc::new(MemoryRevocations::default());
    let app = Router::new().mount(me).secured(&Security::new(authenticator_revoking(revocations.clone())));
    let mut with_jti = claims("alice", "notes:read");
    with_jti["jti"] = "token-7".into();
    let token = Scheme::Hs256.token(&with_jti);
    // The first request verifies and caches; the second takes the fast path.
    for _ in 0..2 {
        assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK);
    }
    revocations.revoke(&rampart::auth::revocation_key(rampart_tests::ISSUER, "token-7"), now() + 600).await.unwrap();
    let revoked = send(&app, get_with_token("/me", &token)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        revoked.header("www-authenticate"),
        r#"Bearer realm="test", error="invalid_token", error_description="the access token is invalid""#
    );

    // A token without the scope: 403 with the challenge. The first two requests verify it (it is
    // remembered from its second verification); the third authenticates without waiting and the
    // guard resumes at authorization, which answers and audits the denial.
    let writer = Scheme::Hs256.token(&claims("bob", "notes:write"));
    for _ in 0..3 {
        let reply = send(&app, get_with_token("/me", &writer)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.header("www-authenticate"), r#"Bearer error="insufficient_scope", scope="notes:read""#);
    }
}
