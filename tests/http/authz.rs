//! Authorization from the attacker's side: missing scope or role is 403 with the
//! `insufficient_scope` challenge; someone else's resource is 404; the handler never runs.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::Security;
use rampart_tests::*;
use serde_json::json;

fn post_json(path: &str, token: &str, body: &'static str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope_and_the_handler_never_runs() {
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator(&[Scheme::Es256])), &calls);
    let reader = Scheme::Es256.token(&claims("alice", "notes:read"));
    let reply = send(&app, post_json("/write", &reader, r#"{"title":"x"}"#)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header("www-authenticate"), r#"Bearer error="insufficient_scope", scope="notes:write""#);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(
        reply.json(),
        json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "this operation requires more privileges"})
    );
    assert_security_headers(&reply);
    assert_eq!(calls.get(), 0);

    let writer = Scheme::Es256.token(&claims("alice", "notes:write"));
    assert_eq!(send(&app, post_json("/write", &writer, r#"{"title":"x"}"#)).await.status, StatusCode::OK);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn authentication_comes_before_body_parsing() {
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &calls);
    // No token and a broken body: 401, not 400 or 413 that would reveal the body's handling.
    let request = Request::post("/write").header("content-type", "application/json").body(Body::from("{nope")).unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::UNAUTHORIZED);
    let huge = "x".repeat(10_000);
    let request = Request::post("/write").header("content-type", "application/json").body(Body::from(huge)).unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::UNAUTHORIZED);
    // Wrong scope and a broken body: 403.
    let reader = Scheme::Hs256.token(&claims("alice", "notes:read"));
    assert_eq!(send(&app, post_json("/write", &reader, "{nope")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn missing_role_is_403() {
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator(&[Scheme::EdDsa])), &calls);
    let user = Scheme::EdDsa.token(&claims("alice", "notes:read notes:write"));
    let reply = send(&app, get_with_token("/admin", &user)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A role is not a scope: no scope challenge (a token with more scopes would not help), and
    // the problem names the role.
    assert!(reply.headers.get("www-authenticate").is_none(), "{:?}", reply.headers);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(
        reply.json(),
        json!({"type": "about:blank", "title": "Forbidden", "status": 403,
               "detail": "this operation requires a role you do not have: admin"})
    );
    let mut admin = claims("root", "");
    admin["roles"] = json!(["admin"]);
    assert_eq!(send(&app, get_with_token("/admin", &Scheme::EdDsa.token(&admin))).await.status, StatusCode::OK);
    // A roles claim of the wrong shape is an invalid token, not "no roles".
    let mut odd = claims("root", "");
    odd["roles"] = json!("admin");
    assert_invalid_token(&send(&app, get_with_token("/admin", &Scheme::EdDsa.token(&odd))).await, "");
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn ownership_denial_is_404_not_403() {
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator(&[Scheme::Rs256])), &calls);
    let alice = Scheme::Rs256.token(&claims("alice", "notes:read"));
    assert_eq!(send(&app, get_with_token("/owned/alice", &alice)).await.status, StatusCode::OK);
    let reply = send(&app, get_with_token("/owned/bob", &alice)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(
        reply.json(),
        json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "the resource was not found"})
    );
    assert!(reply.headers.get("www-authenticate").is_none());
    assert_security_headers(&reply);
    assert_eq!(calls.get(), 1);
}
