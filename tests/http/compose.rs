//! Routers compose: an endpoint nested under a prefix has its full path in the route, the
//! inventory, the OpenAPI document (which `openapi::check` then finds in agreement with the
//! router), its rate-limit keys (in memory and in Redis) and its metric labels; merged routers keep
//! every endpoint; and the security stack is a layer for `ServiceBuilder`. Served over loopback
//! TCP and called with a real HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use rampart::auth::Principal;
use rampart::config::FailureMode;
use rampart::openapi::ApiDocs;
use rampart::rate::{MemoryStore, RateLimiter, RedisStore};
use rampart::{Router, Security, public, secure};
use rampart_tests::*;

/// Who am I.
#[secure(get, path = "/me", scope = "notes:read", rate = "2/min")]
async fn me(user: Principal) -> String {
    user.subject().to_owned()
}

/// Per client IP, once a minute.
#[public(get, path = "/ping", reason = "anyone may ping", rate = "1/min")]
async fn ping() -> &'static str {
    "pong"
}

/// The root of a nested router.
#[public(get, path = "/", reason = "an index anyone may read")]
async fn index() -> &'static str {
    "index"
}

/// Serves `app` on a loopback port; the server stops with the test's runtime.
async fn serve(app: impl Into<axum::Router>) -> SocketAddr {
    let app = app.into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

fn security() -> Security {
    Security::new(authenticator(&[Scheme::Hs256]))
}

fn reader(subject: &str) -> String {
    Scheme::Hs256.token(&claims(subject, "notes:read"))
}

async fn get(address: SocketAddr, path: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(format!("http://{address}{path}"));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

fn api() -> Router {
    Router::new().nest("/api/v1", Router::new().mount(me).mount(index)).with_docs(ApiDocs::new("t", "1"))
}

#[tokio::test]
async fn a_nested_endpoint_answers_at_its_full_path_only() {
    let address = serve(api().secured(&security())).await;
    let alice = reader("alice");

    let nested = get(address, "/api/v1/me", Some(&alice)).await;
    assert_eq!(nested.status(), StatusCode::OK);
    assert_eq!(nested.headers()["ratelimit-policy"], "\"default\";q=2;w=60");
    assert_eq!(nested.headers()["x-content-type-options"], "nosniff");
    assert_eq!(nested.text().await.unwrap(), "alice");

    let anonymous = get(address, "/api/v1/me", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"test\"");

    let unprefixed = get(address, "/me", Some(&alice)).await;
    assert_eq!(unprefixed.status(), StatusCode::NOT_FOUND);
    assert_eq!(unprefixed.headers()["content-type"], "application/problem+json");

    // The nested router's `/` is the prefix itself.
    let root = get(address, "/api/v1", None).await;
    assert_eq!(root.status(), StatusCode::OK);
    assert_eq!(root.text().await.unwrap(), "index");
}

#[tokio::test]
async fn the_document_names_the_full_paths_and_agrees_with_the_router() {
    let router = api();
    let paths: Vec<&str> = router.inventory().iter().map(|info| info.path).collect();
    assert_eq!(paths, ["/api/v1/me", "/api/v1", "/openapi.json", "/docs", "/docs/{file}"]);
    let inventory = router.inventory().to_vec();
    let address = serve(router.secured(&security())).await;

    let document: serde_json::Value = get(address, "/openapi.json", None).await.json().await.unwrap();
    let documented: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    assert!(documented.contains(&"/api/v1/me"), "{documented:?}");
    assert!(documented.contains(&"/api/v1"), "{documented:?}");
    assert!(!documented.contains(&"/me"), "{documented:?}");
    assert_eq!(rampart::openapi::check(&inventory, &document), Ok(()));

    // A document that kept the unprefixed path disagrees with the router.
    let mut stale = document.clone();
    let paths = stale["paths"].as_object_mut().unwrap();
    let operation = paths.remove("/api/v1/me").unwrap();
    paths.insert("/me".to_owned(), operation);
    let problems = rampart::openapi::check(&inventory, &stale).unwrap_err();
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(problems.iter().any(|p| p.starts_with("GET /api/v1/me: ")), "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("GET /me: ")), "{problems:?}");
}

#[tokio::test]
async fn one_endpoint_nested_twice_has_a_quota_per_full_path() {
    let router = Router::new().nest("/v1", Router::new().mount(me)).nest("/v2", Router::new().mount(me));
    let address = serve(router.secured(&security())).await;
    let bob = reader("bob");
    for _ in 0..2 {
        assert_eq!(get(address, "/v1/me", Some(&bob)).await.status(), StatusCode::OK);
    }
    let limited = get(address, "/v1/me", Some(&bob)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // The same handler under another prefix is another route with its own quota.
    assert_eq!(get(address, "/v2/me", Some(&bob)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_shared_rate_limit_key_carries_the_prefix() {
    let prefix = format!("rampart-test:nest:{}:{}", std::process::id(), now());
    let store = RedisStore::connect("redis://127.0.0.1:6379", Duration::from_millis(500)).unwrap().with_prefix(&prefix);
    let security = Security::builder(authenticator(&[Scheme::Hs256]))
        .rate_limiter(RateLimiter::redis(store, FailureMode::Closed, MemoryStore::default()))
        .build();
    let address = serve(api().secured(&security)).await;
    assert_eq!(get(address, "/api/v1/me", Some(&reader("carol"))).await.status(), StatusCode::OK);

    let mut redis =
        redis::Client::open("redis://127.0.0.1:6379").unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut redis).await.unwrap();
    assert_eq!(keys, [format!("{prefix}:rl:GET /api/v1/me:sub:jwt:{ISSUER}#carol")]);
}

#[tokio::test]
async fn metric_labels_name_the_full_path() {
    rampart::metrics::install().unwrap();
    let router = Router::new()
        .nest("/ops", Router::new().mount(rampart::metrics::scrape))
        .nest("/api/v1", Router::new().mount(me));
    let address = serve(router.secured(&security())).await;
    assert_eq!(get(address, "/api/v1/me", Some(&reader("dave"))).await.status(), StatusCode::OK);
    assert_eq!(get(address, "/api/v1/me", None).await.status(), StatusCode::UNAUTHORIZED);

    let operator = Scheme::Hs256.token(&claims("prometheus", "metrics:read"));
    let scraped = get(address, "/ops/metrics", Some(&operator)).await;
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains(
            "rampart_security_decisions_total{route=\"/api/v1/me\",decision=\"deny\",reason=\"missing_token\"}"
        ),
        "{text}"
    );
    assert!(text.contains("rampart_requests_total{route=\"/api/v1/me\",method=\"GET\",status=\"200\"}"), "{text}");
}

#[tokio::test]
async fn merged_routers_keep_every_endpoint_and_refuse_a_twin() {
    let merged = Router::new()
        .mount(me)
        .merge(Router::new().nest("/api", Router::new().mount(me)))
        .with_docs(ApiDocs::new("t", "1"));
    let paths: Vec<&str> = merged.inventory().iter().map(|info| info.path).collect();
    assert_eq!(paths, ["/me", "/api/me", "/openapi.json", "/docs", "/docs/{file}"]);
    let inventory = merged.inventory().to_vec();
    let address = serve(merged.secured(&security())).await;
    assert_eq!(get(address, "/me", Some(&reader("erin"))).await.status(), StatusCode::OK);
    assert_eq!(get(address, "/api/me", Some(&reader("erin"))).await.status(), StatusCode::OK);
    // Each keeps its own quota (2/min per full path).
    assert_eq!(get(address, "/me", Some(&reader("erin"))).await.status(), StatusCode::OK);
    assert_eq!(get(address, "/me", Some(&reader("erin"))).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(address, "/api/me", Some(&reader("erin"))).await.status(), StatusCode::OK);
    // The document has both paths and agrees with the router.
    let document: serde_json::Value = get(address, "/openapi.json", None).await.json().await.unwrap();
    assert!(document["paths"]["/me"]["get"].is_object() && document["paths"]["/api/me"]["get"].is_object());
    assert_eq!(rampart::openapi::check(&inventory, &document), Ok(()));

    let twin = std::panic::catch_unwind(|| Router::<()>::new().mount(me).merge(Router::new().mount(me)));
    let message = *twin.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(message, "two endpoints answer GET /me: `me` and `me`; give one of them another path or method");
}

#[test]
fn a_prefix_that_is_not_a_path_is_refused_with_what_to_write() {
    for prefix in ["api", "/api/", "/", ""] {
        let refused = std::panic::catch_unwind(|| Router::<()>::new().nest(prefix, Router::new().mount(me)));
        let message = *refused.unwrap_err().downcast::<String>().unwrap();
        assert!(message.starts_with(&format!("nest prefix `{prefix}`: give a path such as \"/api/v1\"")), "{message}");
    }
}

#[tokio::test]
async fn the_security_stack_is_a_layer_for_service_builder() {
    let app = Router::new().mount(me).into_axum();
    let service = tower::ServiceBuilder::new().layer(security().layer()).service(app);
    let address = serve(axum::Router::new().fallback_service(service)).await;
    let answered = get(address, "/me", Some(&reader("frank"))).await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(answered.headers()["x-content-type-options"], "nosniff");
    assert!(answered.headers().contains_key("x-request-id"));
    let refused = get(address, "/me", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let missing = get(address, "/nowhere", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn an_axum_router_with_a_fallback_answers_what_no_endpoint_matches_behind_the_stack() {
    let site = axum::Router::new()
        .route("/robots.txt", axum::routing::get(|| async { "User-agent: *\nDisallow:\n" }))
        .fallback(|| async { (StatusCode::OK, "index.html") });
    let router = Router::new().nest("/api/v1", Router::new().mount(me)).fallback_service(site);
    let address = serve(router.secured(&security())).await;

    let endpoint = get(address, "/api/v1/me", Some(&reader("grace"))).await;
    assert_eq!(endpoint.status(), StatusCode::OK);
    let robots = get(address, "/robots.txt", None).await;
    assert_eq!(robots.status(), StatusCode::OK);
    assert_eq!(robots.headers()["x-content-type-options"], "nosniff");
    assert!(robots.headers().contains_key("x-request-id"));
    assert_eq!(robots.text().await.unwrap(), "User-agent: *\nDisallow:\n");
    let page = get(address, "/some/client/route", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.text().await.unwrap(), "index.html");
    // An endpoint's path with another method is still 405, not the fallback.
    let wrong_method = reqwest::Client::new().delete(format!("http://{address}/api/v1/me")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);

    let twice = std::panic::catch_unwind(|| {
        Router::<()>::new()
            .fallback_service(axum::Router::new())
            .merge(Router::new().fallback_service(axum::Router::new()))
    });
    let message = *twice.unwrap_err().downcast::<&str>().unwrap();
    assert_eq!(message, "both merged routers have a fallback: keep one (Router::fallback_service)");
}

#[tokio::test]
async fn a_nested_public_endpoint_limits_each_client_address_on_its_own() {
    let app = Router::new().nest("/api/v1", Router::new().mount(ping)).secured(&security());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    let from =
        |source: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(source)).build().unwrap();
    let url = format!("http://{address}/api/v1/ping");
    let (first, second) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    assert_eq!(first.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let limited = first.get(&url).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["ratelimit-policy"], "\"default\";q=1;w=60");
    // Another client address has its own quota on the same nested route.
    assert_eq!(second.get(&url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(second.get(&url).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Open to anyone; greets a known caller by name.
#[public(get, path = "/hello", reason = "a greeting for anyone, by name when the caller is known")]
async fn hello(user: Option<Principal>) -> String {
    user.map_or_else(|| "hello".to_owned(), |user| format!("hello {}", user.subject()))
}

#[tokio::test]
async fn a_public_endpoint_reads_a_caller_only_when_credentials_are_given() {
    let address = serve(Router::new().mount(hello).secured(&security())).await;
    let anonymous = get(address, "/hello", None).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(anonymous.text().await.unwrap(), "hello");

    let known = get(address, "/hello", Some(&reader("alice"))).await;
    assert_eq!(known.status(), StatusCode::OK);
    assert_eq!(known.text().await.unwrap(), "hello alice");

    // A credential that does not verify is refused, as on a secured endpoint.
    let forged = get(address, "/hello", Some("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        forged.headers()["www-authenticate"],
        r#"Bearer realm="test", error="invalid_token", error_description="the access token is invalid""#
    );
    assert_eq!(forged.headers()["content-type"], "application/problem+json");
}

/// A note whose owner is the path's `{owner}`; `nobody` has none.
struct OwnedNote {
    owner: String,
}

async fn load_owned(
    axum::extract::Path(owner): axum::extract::Path<String>,
) -> Result<Option<OwnedNote>, rampart::Error> {
    Ok((owner != "nobody").then_some(OwnedNote { owner }))
}

fn is_owner(user: &Principal, note: &OwnedNote) -> bool {
    user.subject() == note.owner
}

/// Read a note, checked by its owner.
#[secure(get, path = "/notes/{owner}", scope = "notes:read", load = load_owned, owner = is_owner, rate = "60/min")]
async fn owned_note(
    note: rampart::authz::Checked<OwnedNote>,
    axum::extract::Path(_owner): axum::extract::Path<String>,
) -> String {
    note.into_inner().owner
}

#[tokio::test]
async fn a_nested_resource_route_still_loads_and_checks_its_resource() {
    let app = Router::new().nest("/api/v1", Router::new().mount(owned_note)).secured(&security());
    let address = serve(app).await;
    let mine = get(address, "/api/v1/notes/alice", Some(&reader("alice"))).await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.text().await.unwrap(), "alice");
    // Someone else's and a missing one answer the same 404.
    let theirs = get(address, "/api/v1/notes/bob", Some(&reader("alice"))).await;
    let missing = get(address, "/api/v1/notes/nobody", Some(&reader("alice"))).await;
    assert_eq!((theirs.status(), missing.status()), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(theirs.text().await.unwrap(), missing.text().await.unwrap());
    // Unprefixed, the route does not exist.
    assert_eq!(get(address, "/notes/alice", Some(&reader("alice"))).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        owned_note::INFO.load.zip(owned_note::INFO.owner),
        Some(("load_owned", "is_owner")),
        "the contract names its check"
    );
}

/// How many times [`counted_load`] ran.
static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn counted_load(
    axum::extract::Path(owner): axum::extract::Path<String>,
) -> Result<Option<OwnedNote>, rampart::Error> {
    LOADS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(Some(OwnedNote { owner }))
}

/// Read a note, loaded by a loader that counts its calls; twice a minute.
#[secure(get, path = "/counted/{owner}", scope = "notes:read", load = counted_load, owner = is_owner, rate = "2/min")]
async fn counted_note(
    note: rampart::authz::Checked<OwnedNote>,
    axum::extract::Path(_owner): axum::extract::Path<String>,
) -> String {
    note.into_inner().owner
}

#[tokio::test]
async fn the_resource_is_loaded_only_after_authentication_authorization_and_the_rate_limit() {
    let address = serve(Router::new().mount(counted_note).secured(&security())).await;
    let loads = || LOADS.load(std::sync::atomic::Ordering::SeqCst);
    // No token, a forged one, a token without the scope: refused before any load.
    assert_eq!(get(address, "/counted/carol", None).await.status(), StatusCode::UNAUTHORIZED);
    let forged = format!("{}x", reader("carol"));
    assert_eq!(get(address, "/counted/carol", Some(&forged)).await.status(), StatusCode::UNAUTHORIZED);
    let writer = Scheme::Hs256.token(&claims("carol", "notes:write"));
    assert_eq!(get(address, "/counted/carol", Some(&writer)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(loads(), 0);
    // Allowed: loaded once per request, until the limit refuses before loading.
    for _ in 0..2 {
        assert_eq!(get(address, "/counted/carol", Some(&reader("carol"))).await.status(), StatusCode::OK);
    }
    assert_eq!(loads(), 2);
    assert_eq!(get(address, "/counted/carol", Some(&reader("carol"))).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(loads(), 2);
}
