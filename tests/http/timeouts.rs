//! Handler deadlines (the route's `timeout = "..."`, else the hub's), and a shutdown bounded
//! by its grace period although a handler is stuck: over a real socket with a real client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::serve::{Server, ServerLimits};
use rampart::timeout::Timeouts;
use rampart::{Router, Security, public};
use rampart_tests::*;

/// Set when a cancelled handler would have finished its work.
static FINISHED_AFTER_DEADLINE: AtomicBool = AtomicBool::new(false);

/// Takes 5 s, with a 200 ms deadline of its own.
#[public(get, path = "/slow", reason = "test endpoint", timeout = "200ms")]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    FINISHED_AFTER_DEADLINE.store(true, Ordering::SeqCst);
    "too late"
}

/// Takes 5 s behind a token check, with a 200 ms deadline (a first verification takes the
/// guard's async path).
#[rampart::secure(get, path = "/slow-secure", scope = "notes:read", timeout = "200ms")]
async fn slow_secure() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

/// Takes 2 s, under the hub's deadline.
#[public(get, path = "/sluggish", reason = "test endpoint")]
async fn sluggish() -> &'static str {
    tokio::time::sleep(Duration::from_secs(2)).await;
    "too late"
}

/// Answers at once.
#[public(get, path = "/quick", reason = "test endpoint")]
async fn quick() -> &'static str {
    "quick"
}

/// Never answers.
#[public(get, path = "/stuck", reason = "test endpoint")]
async fn stuck() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

fn app(handler_timeout: Duration) -> axum::Router {
    let security = Security::builder(authenticator(&[Scheme::Hs256]))
        .timeouts(Timeouts { handler: handler_timeout, ..Timeouts::default() })
        .build();
    Router::new()
        .mount(slow)
        .mount(slow_secure)
        .mount(sluggish)
        .mount(quick)
        .mount(stuck)
        .secured(&security)
        .into_axum()
}

async fn assert_timed_out(reply: Reply, within: Duration, started: Instant) {
    assert!(started.elapsed() < within, "answered after {:?}", started.elapsed());
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    let problem: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["detail"], "the request took too long to process");
}

#[tokio::test]
async fn a_handler_past_its_deadline_is_cancelled_and_answered_503() {
    // Audit lines of this test's thread (the test runtime is current-thread).
    let log = CapturedLog::default();
    let _audit = tracing::subscriber::set_default(rampart::audit::json_subscriber_with_writer(log.clone()));
    let app = app(Duration::from_millis(300));
    let started = Instant::now();
    let reply = send(&app, Request::get("/slow").body(Body::empty()).unwrap()).await;
    assert_timed_out(reply, Duration::from_secs(2), started).await;
    // The hub's deadline for a route without its own.
    let started = Instant::now();
    let reply = send(&app, Request::get("/sluggish").body(Body::empty()).unwrap()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_timed_out(reply, Duration::from_millis(1_500), started).await;
    // The async path (a token verified for the first time) has the same deadline.
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let started = Instant::now();
    let reply = send(&app, get_with_token("/slow-secure", &token)).await;
    assert_timed_out(reply, Duration::from_secs(2), started).await;
    // A quick handler is not affected.
    assert_eq!(send(&app, Request::get("/quick").body(Body::empty()).unwrap()).await.status, StatusCode::OK);
    // The slow handler's work was dropped at its await, not finished in the background.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!FINISHED_AFTER_DEADLINE.load(Ordering::SeqCst));
    let events: Vec<serde_json::Value> =
        log.text().lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let timeouts: Vec<_> = events.iter().filter(|e| e["reason"] == "handler_timeout").collect();
    assert_eq!(timeouts.len(), 3, "{events:#?}");
    assert_eq!(timeouts[0]["route"], "/slow");
    assert_eq!(timeouts[0]["status"], 503);
    assert_eq!(timeouts[1]["route"], "/sluggish");
    assert_eq!(timeouts[2]["route"], "/slow-secure");
}

#[tokio::test]
async fn the_route_timeout_is_documented() {
    let router: Router = Router::new().mount(slow).mount(quick);
    let document = rampart::openapi::document(router.inventory(), &rampart::openapi::ApiDocs::new("t", "1"));
    let json = serde_json::to_value(&document).unwrap();
    assert_eq!(json["paths"]["/slow"]["get"]["x-rampart-timeout-ms"], 200);
    assert!(json["paths"]["/quick"]["get"].get("x-rampart-timeout-ms").is_none());
    assert_eq!(json["paths"]["/quick"]["get"]["responses"]["503"]["$ref"], "#/components/responses/ServiceUnavailable");
}

/// SIGTERM-style shutdown with a stuck handler and a keep-alive connection: the server stops
/// accepting, finishes what it can, and returns once the grace period is over.
#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period_even_with_a_stuck_handler() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let limits = ServerLimits { shutdown_grace: Duration::from_secs(1), ..ServerLimits::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(listener, app(Duration::from_secs(3600))).limits(limits).run(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("http://{addr}/quick")).send().await.unwrap().status(), 200);
    let stuck_client = reqwest::Client::new();
    let stuck_request = tokio::spawn(async move { stuck_client.get(format!("http://{addr}/stuck")).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    let ran = tokio::time::timeout(Duration::from_secs(5), server).await.expect("the server stopped within 5 s");
    ran.unwrap().unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "the stuck request got its grace period: {took:?}");
    assert!(took < Duration::from_millis(2_500), "shutdown took {took:?}");
    // The stuck request's connection was closed: its client sees an error, not a hang.
    let outcome = tokio::time::timeout(Duration::from_secs(2), stuck_request).await.unwrap().unwrap();
    assert!(outcome.is_err(), "the stuck request got {outcome:?}");
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
