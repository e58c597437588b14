//! Resource-server introspection (RFC 7662) against a real authorization server on loopback:
//! answers are cached no longer than the configured time nor past the token's `exp`, refusals
//! briefly, a slow or failing endpoint is 503 and left alone for a second, and answers for
//! another issuer or audience are refused. The authorization server counts what it is asked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rampart::Security;
use rampart::auth::{Authenticator, IntrospectionVerifier};
use rampart_tests::*;
use serde_json::{Value, json};

const CLIENT_ID: &str = "orders-api";
const CLIENT_SECRET: &str = "orders-api-secret-0123456789abcdef";

/// What the authorization server answers, and what it was asked.
#[derive(Default)]
struct Server {
    answers: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
    delay: Mutex<Duration>,
    /// Answer this status and body instead of the introspection answer.
    failure: Mutex<Option<(StatusCode, &'static str)>>,
    /// Tokens answered with a 500, whatever the others get.
    failing: Mutex<std::collections::HashSet<String>>,
    /// Every request's form, as received.
    forms: Mutex<Vec<Vec<(String, String)>>>,
}

impl Server {
    fn answer(&self, token: &str, answer: Value) {
        self.answers.lock().unwrap().insert(token.to_owned(), answer);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn introspect(State(server): State<Arc<Server>>, headers: HeaderMap, body: String) -> Response {
    server.calls.fetch_add(1, Ordering::SeqCst);
    let delay = *server.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    if let Some((status, body)) = *server.failure.lock().unwrap() {
        return (status, body).into_response();
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    server.forms.lock().unwrap().push(form.clone());
    let token = form.iter().find(|(name, _)| name == "token").map(|(_, value)| value.clone()).unwrap_or_default();
    if server.failing.lock().unwrap().contains(&token) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response();
    }
    let answer = server.answers.lock().unwrap().get(&token).cloned().unwrap_or(json!({"active": false}));
    axum::Json(answer).into_response()
}

/// Starts the authorization server; its introspection endpoint's URL.
async fn authorization_server() -> (Arc<Server>, reqwest::Url) {
    let server = Arc::new(Server::default());
    let app = axum::Router::new().route("/introspect", axum::routing::post(introspect)).with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (server, url)
}

/// A resource server introspecting at `url` with `secret` (no JWT keys: every token is
/// introspected).
fn resource_server_with(
    url: reqwest::Url,
    secret: &str,
    configure: impl FnOnce(rampart::auth::IntrospectionBuilder) -> rampart::auth::IntrospectionBuilder,
) -> axum::Router {
    let verifier =
        configure(IntrospectionVerifier::builder(url, ISSUER, [AUDIENCE]).client(CLIENT_ID, secret.to_owned()))
            .build()
            .unwrap();
    let authenticator = Authenticator::builder().introspection(verifier).realm("test").build().unwrap();
    test_app(&Security::builder(authenticator).build(), &Calls::default())
}

/// [`resource_server_with`] the registered secret.
fn resource_server(
    url: reqwest::Url,
    configure: impl FnOnce(rampart::auth::IntrospectionBuilder) -> rampart::auth::IntrospectionBuilder,
) -> axum::Router {
    resource_server_with(url, CLIENT_SECRET, configure)
}

fn active(sub: &str, scope: &str, ttl: u64) -> Value {
    json!({"active": true, "sub": sub, "scope": scope, "exp": now() + ttl, "iss": ISSUER, "aud": AUDIENCE})
}

#[tokio::test]
async fn an_active_answer_is_used_until_the_configured_time_and_never_past_exp() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read notes:write", 3600));
    server.answer("opaque-reader", active("rita", "notes:read", 3600));
    let app = resource_server(url, |b| b.cache_for(Duration::from_secs(2)));

    for _ in 0..3 {
        let reply = send(&app, get_with_token("/me", "opaque-alice")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["sub"], "alice");
        assert_eq!(reply.json()["scopes"], json!(["notes:read", "notes:write"]));
    }
    assert_eq!(server.calls(), 1, "three requests, one introspection");
    // The form: the token and the hint, the credentials in Basic (checked by the server).
    assert_eq!(
        server.forms.lock().unwrap()[0],
        vec![
            ("token".to_owned(), "opaque-alice".to_owned()),
            ("token_type_hint".to_owned(), "access_token".to_owned())
        ]
    );

    // The answer's scopes are what the policy sees.
    let write = axum::http::Request::post("/write")
        .header("authorization", "Bearer opaque-reader")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let refused = send(&app, write).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.header("www-authenticate"), r#"Bearer error="insufficient_scope", scope="notes:write""#);

    // A token expiring in a second is not kept past its exp, though the cache time is longer.
    server.answer("opaque-short", json!({"active": true, "sub": "sam", "exp": now() + 1, "aud": AUDIENCE}));
    assert_eq!(send(&app, get_with_token("/me", "opaque-short")).await.status, StatusCode::OK);
    let asked = server.calls();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.answer("opaque-short", json!({"active": false}));
    let after_exp = send(&app, get_with_token("/me", "opaque-short")).await;
    assert_invalid_token(&after_exp, "opaque-short");
    assert_eq!(server.calls(), asked + 1, "asked again once exp passed");

    // Revoked at the authorization server: served from the cache at most the configured time,
    // then refused.
    server.answer("opaque-alice", json!({"active": false}));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let asked = server.calls();
    let revoked = send(&app, get_with_token("/me", "opaque-alice")).await;
    assert_invalid_token(&revoked, "opaque-alice");
    assert_eq!(server.calls(), asked + 1, "the cached answer ended after 2 s");
}

#[tokio::test]
async fn a_refusal_is_remembered_briefly_and_an_invented_token_is_a_401() {
    let (server, url) = authorization_server().await;
    let app = resource_server(url, |b| b.refuse_for(Duration::from_secs(1)));
    for _ in 0..3 {
        let reply = send(&app, get_with_token("/me", "invented-token")).await;
        assert_invalid_token(&reply, "invented-token");
    }
    assert_eq!(server.calls(), 1, "three requests, one introspection");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Issued since: the refusal is not remembered past its time.
    server.answer("invented-token", active("ivy", "notes:read", 3600));
    assert_eq!(send(&app, get_with_token("/me", "invented-token")).await.status, StatusCode::OK);
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn answers_for_another_issuer_or_audience_are_refused_and_a_client_is_a_client() {
    let (server, url) = authorization_server().await;
    server.answer(
        "other-issuer",
        json!({"active": true, "sub": "alice", "iss": "https://elsewhere.test", "aud": AUDIENCE}),
    );
    server.answer("other-audience", json!({"active": true, "sub": "alice", "aud": ["billing"]}));
    server.answer("no-audience", json!({"active": true, "sub": "alice"}));
    server.answer("refresh", json!({"active": true, "sub": "alice", "aud": AUDIENCE, "token_type": "refresh_token"}));
    server.answer("expired", json!({"active": true, "sub": "alice", "exp": now() - 3600, "aud": AUDIENCE}));
    server.answer(
        "client-token",
        json!({"active": true, "client_id": "reporting", "scope": "notes:read", "aud": AUDIENCE, "gty": "client-credentials"}),
    );
    // Without `sub` and without evidence that the client holds it itself: any user of the client.
    server.answer(
        "user-of-client",
        json!({"active": true, "client_id": "reporting", "scope": "notes:read", "aud": AUDIENCE}),
    );
    let app = resource_server(url.clone(), |b| b);
    for token in ["other-issuer", "other-audience", "no-audience", "refresh", "user-of-client"] {
        assert_invalid_token(&send(&app, get_with_token("/me", token)).await, token);
    }
    let expired = send(&app, get_with_token("/me", "expired")).await;
    assert_eq!(
        expired.header("www-authenticate"),
        r#"Bearer realm="test", error="invalid_token", error_description="the access token expired""#
    );
    let client = send(&app, get_with_token("/me", "client-token")).await;
    assert_eq!(client.status, StatusCode::OK);
    assert_eq!(client.json()["sub"], "reporting");
    // Where the server's tokens are all for this service, an answer may leave `aud` out.
    let lenient = resource_server(url, rampart::auth::IntrospectionBuilder::audience_optional);
    assert_eq!(send(&lenient, get_with_token("/me", "no-audience")).await.status, StatusCode::OK);
}

/// The 503 a request gets when the endpoint gave no usable answer.
fn assert_unavailable(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", reply.body);
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json()["status"], 503);
    assert!(reply.headers.get("www-authenticate").is_none(), "the token is not called invalid");
    assert_security_headers(reply);
}

#[tokio::test]
async fn a_slow_endpoint_is_a_bounded_503_and_is_left_alone_for_a_second() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read", 3600));
    server.answer("opaque-bob", active("bob", "notes:read", 3600));
    let app = resource_server(url, |b| b.timeout(Duration::from_millis(300)));
    assert_eq!(send(&app, get_with_token("/me", "opaque-alice")).await.status, StatusCode::OK);

    *server.delay.lock().unwrap() = Duration::from_secs(5);
    let started = Instant::now();
    assert_unavailable(&send(&app, get_with_token("/me", "opaque-bob")).await);
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?}", started.elapsed());
    let asked = server.calls();
    // Within the second: not asked again, answered at once.
    let started = Instant::now();
    assert_unavailable(&send(&app, get_with_token("/me", "opaque-bob")).await);
    assert!(started.elapsed() < Duration::from_millis(200), "waited {:?}", started.elapsed());
    assert_eq!(server.calls(), asked);
    // A token answered before is still served from the cache.
    assert_eq!(send(&app, get_with_token("/me", "opaque-alice")).await.status, StatusCode::OK);

    *server.delay.lock().unwrap() = Duration::ZERO;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&app, get_with_token("/me", "opaque-bob")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_token_the_server_fails_on_does_not_stop_the_others_but_several_do() {
    let (server, url) = authorization_server().await;
    for (token, sub) in [("opaque-alice", "alice"), ("opaque-bob", "bob"), ("opaque-carol", "carol")] {
        server.answer(token, active(sub, "notes:read", 3600));
    }
    server.failing.lock().unwrap().extend(["boom-1", "boom-2", "boom-3"].map(str::to_owned));
    let app = resource_server(url, |b| b);
    // One token the server fails on: 503 for it, and not asked about again within the second...
    assert_unavailable(&send(&app, get_with_token("/me", "boom-1")).await);
    let asked = server.calls();
    assert_unavailable(&send(&app, get_with_token("/me", "boom-1")).await);
    assert_eq!(server.calls(), asked);
    // ...while another token is introspected at once.
    let alice = send(&app, get_with_token("/me", "opaque-alice")).await;
    assert_eq!((alice.status, alice.json()["sub"].as_str()), (StatusCode::OK, Some("alice")));
    assert_eq!(server.calls(), asked + 1);
    // Failures for three distinct tokens within the window: the endpoint is down for a second.
    assert_unavailable(&send(&app, get_with_token("/me", "boom-2")).await);
    assert_unavailable(&send(&app, get_with_token("/me", "boom-3")).await);
    let asked = server.calls();
    assert_unavailable(&send(&app, get_with_token("/me", "opaque-bob")).await);
    assert_eq!(server.calls(), asked, "not asked while down");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&app, get_with_token("/me", "opaque-bob")).await.status, StatusCode::OK);
    assert_eq!(send(&app, get_with_token("/me", "opaque-carol")).await.status, StatusCode::OK);
}

/// A request dropped while its introspection is under way (a client that goes away, an HTTP/2
/// reset) leaves nothing behind: the next request with the token asks again, and thousands of
/// invented tokens sent and dropped leave no entry.
#[tokio::test]
async fn cancelled_introspections_leave_no_entry_behind() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read", 3600));
    *server.delay.lock().unwrap() = Duration::from_millis(200);
    let verifier = IntrospectionVerifier::builder(url, ISSUER, [AUDIENCE])
        .client(CLIENT_ID, CLIENT_SECRET.to_owned())
        .build()
        .unwrap();
    for i in 0..200 {
        let token = format!("invented-{i}");
        let cancelled = tokio::time::timeout(Duration::from_millis(20), verifier.verify(&token)).await;
        assert!(cancelled.is_err(), "answered before the cancellation");
    }
    assert_eq!(verifier.round_trips_under_way(), 0, "a cancelled round trip left its entry");
    let cancelled = tokio::time::timeout(Duration::from_millis(20), verifier.verify("opaque-alice")).await;
    assert!(cancelled.is_err());
    *server.delay.lock().unwrap() = Duration::ZERO;
    assert_eq!(verifier.verify("opaque-alice").await.unwrap().subject(), "alice");
    assert_eq!(verifier.round_trips_under_way(), 0);
}

#[tokio::test]
async fn an_error_answer_or_wrong_client_credentials_are_a_503() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read", 3600));
    // Each case with its own resource server: each is then asked afresh.
    for (status, body) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "{\"active\": true}"),
        (StatusCode::OK, "<html>login</html>"),
        (StatusCode::OK, "{\"active\": \"yes\"}"),
    ] {
        *server.failure.lock().unwrap() = Some((status, body));
        let app = resource_server(url.clone(), |b| b);
        assert_unavailable(&send(&app, get_with_token("/me", "opaque-alice")).await);
    }
    *server.failure.lock().unwrap() = None;
    let not_registered = resource_server_with(url.clone(), "not-the-secret-0123456789abcdef", |b| b);
    assert_unavailable(&send(&not_registered, get_with_token("/me", "opaque-alice")).await);
    // A 400 for one token refuses that token (401), and leaves the endpoint in use for others.
    *server.failure.lock().unwrap() = Some((StatusCode::BAD_REQUEST, "{\"error\": \"invalid_request\"}"));
    let app = resource_server(url.clone(), |b| b);
    assert_invalid_token(&send(&app, get_with_token("/me", "opaque-alice")).await, "opaque-alice");
    *server.failure.lock().unwrap() = None;
    assert_eq!(send(&app, get_with_token("/me", "opaque-bob-unknown")).await.status, StatusCode::UNAUTHORIZED);
    // The endpoint itself says not-an-answer for an active flag that is not a boolean.
    server.answer("weird", json!({"active": "yes"}));
    assert_unavailable(&send(&resource_server(url, |b| b), get_with_token("/me", "weird")).await);
}

#[tokio::test]
async fn with_jwt_keys_only_opaque_tokens_are_introspected() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read", 3600));
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let verifier = IntrospectionVerifier::builder(url, ISSUER, [AUDIENCE])
        .client(CLIENT_ID, CLIENT_SECRET.to_owned())
        .build()
        .unwrap();
    let authenticator = Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .introspection(verifier)
        .realm("test")
        .build()
        .unwrap();
    let app = test_app(&Security::builder(authenticator).build(), &Calls::default());
    let jwt = Scheme::Hs256.token(&claims("jay", "notes:read"));
    assert_eq!(send(&app, get_with_token("/me", &jwt)).await.json()["sub"], "jay");
    let forged = format!("{jwt}x");
    assert_invalid_token(&send(&app, get_with_token("/me", &forged)).await, "");
    assert_eq!(server.calls(), 0, "JWTs are verified here");
    assert_eq!(send(&app, get_with_token("/me", "opaque-alice")).await.json()["sub"], "alice");
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn requests_with_the_same_new_token_at_once_share_one_introspection() {
    let (server, url) = authorization_server().await;
    server.answer("opaque-alice", active("alice", "notes:read", 3600));
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let app = resource_server(url, |b| b);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, get_with_token("/me", "opaque-alice")).await.status })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.calls(), 1, "twenty requests at once, one introspection");
    // Refusals are shared the same way.
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, get_with_token("/me", "invented")).await.status })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn with_more_live_tokens_than_the_cache_holds_the_evicted_are_asked_again_and_all_are_served() {
    let (server, url) = authorization_server().await;
    let tokens: Vec<String> = (0..200).map(|i| format!("opaque-user-{i}")).collect();
    for (i, token) in tokens.iter().enumerate() {
        server.answer(token, active(&format!("user-{i}"), "notes:read", 3600));
    }
    // Room for a few dozen principals, not two hundred.
    let app = resource_server(url, |b| b.cache_bytes(32 * 1024));
    for (i, token) in tokens.iter().enumerate() {
        let reply = send(&app, get_with_token("/me", token)).await;
        assert_eq!((reply.status, reply.json()["sub"].clone()), (StatusCode::OK, json!(format!("user-{i}"))));
    }
    assert_eq!(server.calls(), 200);
    // Each one again: every one is served as its own subject; the cache cannot hold two
    // hundred, so those it evicted are asked about again, and those it kept are not.
    let asked = server.calls();
    for (i, token) in tokens.iter().enumerate() {
        let reply = send(&app, get_with_token("/me", token)).await;
        assert_eq!((reply.status, reply.json()["sub"].clone()), (StatusCode::OK, json!(format!("user-{i}"))));
    }
    let asked_again = server.calls() - asked;
    assert!(asked_again > 0, "two hundred tokens held in 32 KiB");
    assert!(asked_again < 200, "none answered from the cache");
}
