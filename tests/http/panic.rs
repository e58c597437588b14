//! A handler that panics is answered 500 problem+json, with the usual headers and without the
//! panic's message; the service keeps serving.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::{Router, Security, public};
use rampart_tests::*;

/// Panics.
#[public(get, path = "/panics", reason = "test endpoint")]
async fn panics() -> &'static str {
    panic!("boom: an internal detail that must not reach the client")
}

/// Answers.
#[public(get, path = "/fine", reason = "test endpoint")]
async fn fine() -> &'static str {
    "fine"
}

#[tokio::test]
async fn a_panicking_handler_answers_500_problem_json_and_the_service_keeps_serving() {
    let app = Router::new().mount(panics).mount(fine).secured(&Security::new(authenticator(&[Scheme::Hs256])));
    let request = || Request::get("/panics").header("x-request-id", "panic-1").body(Body::empty()).unwrap();
    let reply = send(&app, request()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.header("x-request-id"), "panic-1");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    let body = String::from_utf8_lossy(&reply.body);
    assert!(!body.contains("boom") && !body.contains("internal detail"), "{body}");
    let problem: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(problem["status"], 500);

    let next = send(&app, Request::get("/fine").body(Body::empty()).unwrap()).await;
    assert_eq!(next.status, StatusCode::OK);
}
