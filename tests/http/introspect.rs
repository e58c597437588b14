//! `POST /oauth/introspect` of the notes service (RFC 7662) from the caller's side: only an
//! authenticated client learns anything; an active token is described, anything else is
//! `{"active": false}` and nothing more.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use rampart_tests::*;
use serde_json::json;

const CLIENT: (&str, &str) = ("reporting", "reporting-secret-0123456789abcdef");

fn basic((id, secret): (&str, &str)) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

fn form(path: &str, authorization: Option<String>, body: &str) -> Request<Body> {
    let mut request = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn a_client_learns_whether_a_token_is_active_and_nothing_else() {
    let clients = format!("{}:{}:notes:read", CLIENT.0, CLIENT.1);
    let app = notes_app(&[("RAMPART_OAUTH_CLIENTS", &clients)]).await;
    let granted = send(&app, form("/oauth/token", Some(basic(CLIENT)), "grant_type=client_credentials")).await;
    assert_eq!(granted.status, StatusCode::OK);
    let token = granted.json()["access_token"].as_str().unwrap().to_owned();

    let introspect = |authorization: Option<String>, body: String| form("/oauth/introspect", authorization, &body);
    let active = send(&app, introspect(Some(basic(CLIENT)), format!("token={token}"))).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(active.header("cache-control"), "no-store");
    let described = active.json();
    assert_eq!(described["active"], true);
    assert_eq!(described["scope"], "notes:read");
    assert_eq!(described["client_id"], "reporting");
    assert_eq!(described["sub"], "reporting");
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["iss"], ISSUER);
    // A client's own token says so: a resource server must not take it for a user's.
    assert_eq!(described["gty"], "client-credentials");
    assert!(described["aud"].is_string(), "{described}");
    assert!(described["exp"].as_u64().unwrap() > now());

    // A token whose `exp` is a float NumericDate (RFC 7519 §2) is described with its `exp` too.
    let mut float_exp = claims("alice", "notes:read");
    let at = now();
    float_exp["exp"] = json!(at as f64 + 600.25);
    let described =
        send(&app, introspect(Some(basic(CLIENT)), format!("token={}", Scheme::Hs256.token(&float_exp)))).await.json();
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["exp"], at + 600, "{described}");

    // Unknown, forged, expired: inactive, with no detail.
    let mut expired = claims("alice", "notes:read");
    expired["exp"] = json!(now() - 3600);
    for other in ["not-a-token".to_owned(), format!("{token}x"), Scheme::Hs256.token(&expired)] {
        let reply = send(&app, introspect(Some(basic(CLIENT)), format!("token={other}"))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({"active": false}));
    }

    // Without client authentication, or with a wrong secret: 401 invalid_client, nothing said
    // about the token. Without a token: 400.
    let anonymous = send(&app, introspect(None, format!("token={token}"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"], "invalid_client");
    assert!(anonymous.json().get("active").is_none());
    let wrong =
        send(&app, introspect(Some(basic((CLIENT.0, "not-the-secret-0123456789"))), format!("token={token}"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = send(&app, introspect(Some(basic(CLIENT)), String::new())).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["error"], "invalid_request");
}
