//! The attributes at work: the order of checks (authentication, authorization, rate limit, then
//! body parsing), rate limits with their headers, public endpoints, ownership, the inventory, and
//! the negative tests generated from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use rampart::auth::Principal;
use rampart::authz::Checked;
use rampart::extract::{Json, Path};
use rampart::testing::{TokenGrant, check_endpoints};
use rampart::{Router, Security, public, secure};
use rampart_tests::*;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct NewNote {
    #[garde(length(chars, min = 1, max = 120))]
    title: String,
}

struct Note {
    owner: String,
}

fn is_owner(principal: &Principal, note: &Note) -> bool {
    principal.subject() == note.owner
}

/// Create a note.
#[secure(post, path = "/notes", scope = "notes:write", rate = "10/min")]
async fn create_note(State(counter): State<Counter>, user: Principal, Json(note): Json<NewNote>) -> Json<Value> {
    counter.hit();
    Json(json!({"title": note.title, "owner": user.subject()}))
}

/// Each note's owner is the path's `{owner}`; there is no note of `nobody`.
async fn load_note(Path(owner): Path<String>) -> Result<Option<Note>, rampart::Error> {
    Ok((owner != "nobody").then_some(Note { owner }))
}

/// Read a note.
#[secure(get, path = "/notes/{owner}", scope = "notes:read", load = load_note, owner = is_owner)]
async fn read_note(State(counter): State<Counter>, note: Checked<Note>, Path(_owner): Path<String>) -> String {
    counter.hit();
    note.into_inner().owner
}

/// Admin only.
#[secure(delete, path = "/notes", role = "admin")]
async fn purge(State(counter): State<Counter>) -> StatusCode {
    counter.hit();
    StatusCode::NO_CONTENT
}

/// Liveness.
#[public(get, path = "/health", reason = "probed by the load balancer", rate = "3/min")]
async fn health(State(counter): State<Counter>) -> &'static str {
    counter.hit();
    "ok"
}

fn router() -> Router<Counter> {
    Router::new().mount(create_note).mount(read_note).mount(purge).mount(health)
}

fn app() -> (axum::Router, Counter) {
    let counter = Counter::default();
    let app = router().with_state(counter.clone()).secured(&Security::new(authenticator(&[Scheme::Hs256]))).into_axum();
    (app, counter)
}

fn post(token: Option<&str>, content_type: &str, body: String) -> Request<Body> {
    let mut request = Request::post("/notes").header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn no_token_is_401_whatever_the_body() {
    let (app, counter) = app();
    let bodies = [
        ("application/json", "{broken".to_owned()),
        ("application/json", r#"{"title": 1, "extra": true}"#.to_owned()),
        ("text/plain", "hello".to_owned()),
        ("application/json", format!("\"{}\"", "x".repeat(3 * 1024 * 1024))),
    ];
    for (content_type, body) in bodies {
        let reply = send(&app, post(None, content_type, body)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("www-authenticate"), r#"Bearer realm="test""#);
        assert_eq!(reply.json()["status"], 401);
        assert!(reply.json().get("errors").is_none(), "a 401 must not describe the body");
    }
    assert_eq!(counter.get(), 0);
}

#[tokio::test]
async fn wrong_scope_is_403_whatever_the_body() {
    let (app, counter) = app();
    let reader = Scheme::Hs256.token(&claims("alice", "notes:read"));
    for body in ["{broken", r#"{"title": 1}"#] {
        let reply = send(&app, post(Some(&reader), "application/json", body.into())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.header("www-authenticate"), r#"Bearer error="insufficient_scope", scope="notes:write""#);
    }
    assert_eq!(counter.get(), 0);
}

#[tokio::test]
async fn with_the_right_scope_the_body_is_parsed_and_the_handler_runs() {
    let (app, counter) = app();
    let writer = Scheme::Hs256.token(&claims("alice", "notes:write"));
    let reply = send(&app, post(Some(&writer), "application/json", "{broken".into())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let reply = send(&app, post(Some(&writer), "application/json", r#"{"title": "a", "owner": "bob"}"#.into())).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["errors"][0]["detail"], "unknown field, expected `title`");
    let reply = send(&app, post(Some(&writer), "text/plain", r#"{"title": "a"}"#.into())).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(counter.get(), 0);
    let reply = send(&app, post(Some(&writer), "application/json", r#"{"title": "a"}"#.into())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"title": "a", "owner": "alice"}));
    assert_eq!(counter.get(), 1);
}

#[tokio::test]
async fn the_eleventh_request_in_a_minute_is_429_with_headers() {
    let (app, counter) = app();
    let writer = Scheme::Hs256.token(&claims("alice", "notes:write"));
    for i in 0..10u32 {
        let reply = send(&app, post(Some(&writer), "application/json", r#"{"title": "a"}"#.into())).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
        assert_eq!(reply.header("ratelimit-policy"), r#""default";q=10;w=60"#);
        assert!(
            reply.header("ratelimit").starts_with(&format!("\"default\";r={};t=", 9 - i)),
            "{}",
            reply.header("ratelimit")
        );
    }
    let reply = send(&app, post(Some(&writer), "application/json", r#"{"title": "a"}"#.into())).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!((1..=6).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(reply.header("ratelimit-policy"), r#""default";q=10;w=60"#);
    assert!(reply.header("ratelimit").starts_with(r#""default";r=0;t="#));
    assert_eq!(reply.json()["status"], 429);
    assert_security_headers(&reply);
    assert_eq!(counter.get(), 10);

    // Another subject has its own quota; the limit comes after authentication, so a bad token
    // never consumes anyone's quota.
    let bob = Scheme::Hs256.token(&claims("bob", "notes:write"));
    assert_eq!(
        send(&app, post(Some(&bob), "application/json", r#"{"title": "b"}"#.into())).await.status,
        StatusCode::OK
    );
    assert_eq!(send(&app, post(None, "application/json", "{}".into())).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn public_endpoints_need_no_token_and_are_limited_per_ip() {
    let (app, counter) = app();
    for _ in 0..3 {
        let reply = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_security_headers(&reply);
    }
    let reply = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(counter.get(), 3);
}

#[tokio::test]
async fn ownership_and_roles() {
    let (app, counter) = app();
    let alice = Scheme::Hs256.token(&claims("alice", "notes:read"));
    assert_eq!(send(&app, get_with_token("/notes/alice", &alice)).await.status, StatusCode::OK);
    let reply = send(&app, get_with_token("/notes/bob", &alice)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["detail"], "the resource was not found");
    // A missing note answers exactly as someone else's does.
    let missing = send(&app, get_with_token("/notes/nobody", &alice)).await;
    assert_eq!((missing.status, missing.json()), (reply.status, reply.json()));
    let purge_request = |token: &str| {
        Request::delete("/notes").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
    };
    assert_eq!(send(&app, purge_request(&alice)).await.status, StatusCode::FORBIDDEN);
    let mut admin = claims("root", "");
    admin["roles"] = json!(["admin"]);
    assert_eq!(send(&app, purge_request(&Scheme::Hs256.token(&admin))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(counter.get(), 2);
}

#[tokio::test]
async fn the_inventory_lists_every_contract() {
    let lines: Vec<String> = router().inventory().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            "POST /notes scope = \"notes:write\" rate 10/60s per sub",
            "GET /notes/{owner} scope = \"notes:read\"",
            "DELETE /notes role = \"admin\"",
            "GET /health public (probed by the load balancer) rate 3/60s per ip",
        ]
    );
    assert_eq!(create_note::INFO.summary, Some("Create a note."));
    assert_eq!(read_note::INFO.owner, Some("is_owner"));
}

#[tokio::test]
async fn generated_negative_tests_pass_for_a_correct_app_and_catch_a_bypass() {
    let (app, _) = app();
    let inventory = router().inventory().to_vec();
    let mint = |grant: &TokenGrant| {
        let mut c = claims("tester", &grant.scopes.join(" "));
        c["roles"] = json!(grant.roles);
        Scheme::Hs256.token(&c)
    };
    let report = check_endpoints(&app, &inventory, &mint).await;
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.checked, 10);

    // A route that bypasses the contract (raw axum, same path) is caught by the same checks.
    let bypass = axum::Router::new()
        .route("/notes", axum::routing::delete(|| async { StatusCode::NO_CONTENT }))
        .layer(axum::Extension(Security::new(authenticator(&[Scheme::Hs256]))));
    let report = check_endpoints(&bypass, &[&purge::INFO], &mint).await;
    assert_eq!(report.failures.len(), 2, "{report}");
}
