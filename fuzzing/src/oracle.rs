//! What every response of the service must look like, whatever the request was.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::service::Reply;

/// Panics (a fuzzing finding) unless `reply` has one of `allowed` statuses and, when it is an
/// error, is problem+json with the matching `status`, a `title`, and the headers its status needs.
pub(crate) fn check(reply: &Reply, allowed: &[StatusCode]) {
    let status = reply.status;
    assert!(allowed.contains(&status), "unexpected status {status}; body: {}", String::from_utf8_lossy(&reply.body));
    if status.is_success() {
        return;
    }
    let content_type = reply.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(content_type, "application/problem+json", "a {status} must be problem+json");
    let problem: Value = serde_json::from_slice(&reply.body).expect("a problem body is JSON");
    assert_eq!(problem["status"].as_u64(), Some(u64::from(status.as_u16())), "problem status: {problem}");
    assert!(problem["title"].is_string(), "a problem has a title: {problem}");
    if let Some(errors) = problem.get("errors") {
        let errors = errors.as_array().expect("`errors` is an array");
        for error in errors {
            let pointer = error["pointer"].as_str().expect("each error has a pointer");
            // RFC 9457's examples write pointers as URI fragments: `#` or `#/field/0`.
            assert!(pointer == "#" || pointer.starts_with("#/"), "not a JSON pointer fragment: {pointer:?}");
            assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()), "each error has a detail: {error}");
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = reply.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(challenge.starts_with("Bearer realm="), "a 401 challenges: {challenge:?}");
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(reply.headers.contains_key(RETRY_AFTER), "a 429 says when to retry");
    }
}
