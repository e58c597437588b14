//! Audit events: one JSON line per security decision, with the contract's fields, and never the
//! token that was sent.
//!
//! Its own test binary: the subscriber is process-global here, so no other test's events (or
//! tracing's per-callsite interest cache) can interfere.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use rampart::config::FailureMode;
use rampart::rate::{MemoryStore, RateLimiter, RedisStore};
use rampart::{Router, Security, secure};
use rampart_tests::*;
use serde_json::{Value, json};

/// Once a minute.
#[secure(get, path = "/once", scope = "notes:read", rate = "1/min")]
async fn once_a_minute() -> &'static str {
    "ok"
}

#[tokio::test]
async fn denials_are_audited_as_json_lines_without_the_token() {
    let log = CapturedLog::default();
    tracing::subscriber::set_global_default(rampart::audit::json_subscriber_with_writer(log.clone())).unwrap();
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());

    let mut expired = claims("alice", "notes:read");
    expired["exp"] = json!(now() - 3600);
    let expired = Scheme::Hs256.token(&expired);
    let reader = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let (head, rest) = reader.split_once('.').unwrap();
    let signature = rest.split_once('.').unwrap().1;
    let forged = format!("{head}.{}.{signature}", b64(&claims("admin", "notes:read notes:write")));

    send(&app, Request::get("/me?secret=query-value").header("x-request-id", "rid-1").body(Body::empty()).unwrap())
        .await;
    send(&app, get_with_token("/me", &expired)).await;
    send(&app, get_with_token("/me", &forged)).await;
    send(&app, get_with_token("/admin", &reader)).await;
    send(&app, get_with_token("/owned/bob", &reader)).await;

    // A rate limit, then a shared store that is down (nothing listens on port 1) in `local` mode.
    let limited = Router::new().mount(once_a_minute).secured(&Security::new(authenticator(&[Scheme::Hs256])));
    send(&limited, get_with_token("/once", &reader)).await;
    send(&limited, get_with_token("/once", &reader)).await;
    // Nested, served over loopback TCP and called with a real HTTP client: the event names the
    // full path.
    let nested = Router::new()
        .nest("/api/v1", Router::new().mount(once_a_minute))
        .secured(&Security::new(authenticator(&[Scheme::Hs256])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, nested.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    let http = reqwest::Client::new();
    for expected in [200, 429] {
        let reply = http.get(format!("http://{address}/api/v1/once")).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(reply.status().as_u16(), expected);
    }
    let dead_redis = RedisStore::connect("redis://127.0.0.1:1", Duration::from_millis(100)).unwrap();
    let degraded = Router::new().mount(once_a_minute).secured(
        &Security::builder(authenticator(&[Scheme::Hs256]))
            .rate_limiter(RateLimiter::redis(dead_redis, FailureMode::Local, MemoryStore::default()))
            .build(),
    );
    assert_eq!(send(&degraded, get_with_token("/once", &reader)).await.status, 200);

    // A body that fails validation (after authentication: the subject is known).
    let invalid = Request::post("/typed")
        .header("authorization", format!("Bearer {reader}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"n": 5000}"#))
        .unwrap();
    assert_eq!(send(&app, invalid).await.status, 422);

    let text = log.text();
    for secret in [&expired, &reader, &forged] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "the audit log contains a token");
    }
    assert!(!text.contains("query-value"), "the audit log contains a query string");

    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .filter(|e: &Value| e["target"] == "rampart::audit")
        .collect();
    let summary: Vec<(String, String, String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["route"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("/me", "deny", "missing_token", 401),
        ("/me", "deny", "expired", 401),
        ("/me", "deny", "bad_signature", 401),
        ("/admin", "deny", "insufficient_role", 403),
        ("/owned/{owner}", "deny", "not_owner", 404),
        ("/once", "deny", "rate_limited", 429),
        ("/api/v1/once", "deny", "rate_limited", 429),
        ("/once", "degraded", "rate_store_fallback_local", 200),
        ("/typed", "deny", "invalid_input", 422),
    ];
    let expected: Vec<(String, String, String, u64)> =
        expected.iter().map(|(r, d, why, s)| (r.to_string(), d.to_string(), why.to_string(), *s)).collect();
    assert_eq!(summary, expected);
    for event in &events {
        for field in ["ts", "request_id", "method", "route", "client_ip", "decision", "reason", "status"] {
            assert!(event.get(field).is_some(), "missing {field}: {event}");
        }
        let expected_method = if event["route"] == "/typed" { "POST" } else { "GET" };
        assert_eq!(event["method"], expected_method);
    }
    assert_eq!(events[0]["request_id"], "rid-1");
    assert!(events[0].get("subject").is_none(), "no subject before authentication");
    assert_eq!(events[3]["subject"], "alice");
    assert_eq!(events[4]["subject"], "alice");
    assert_eq!(events[5]["subject"], "alice");
    assert_eq!(events[6]["subject"], "alice");
    assert_eq!(events[6]["client_ip"], "127.0.0.1", "the served request's peer");
    assert_eq!(events[7]["level"], "WARN");
    assert_eq!(events[8]["subject"], "alice");
}
