//! Secure headers and problem+json on every kind of response: 200, 401, 403, 404, 405, 413, 415,
//! 422 and 500, including axum's own rejections.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::Security;
use rampart_tests::*;

#[tokio::test]
async fn security_headers_on_every_status() {
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let writer = Scheme::Hs256.token(&claims("alice", "notes:write"));
    let json_post = |path: &str, token: &str, body: String, content_type: &str| {
        Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(StatusCode, Request<Body>)> = vec![
        (StatusCode::OK, get_with_token("/me", &token)),
        (StatusCode::UNAUTHORIZED, Request::get("/me").body(Body::empty()).unwrap()),
        (StatusCode::FORBIDDEN, get_with_token("/admin", &token)),
        (StatusCode::NOT_FOUND, get_with_token("/nowhere", &token)),
        (StatusCode::NOT_FOUND, get_with_token("/owned/bob", &token)),
        (StatusCode::METHOD_NOT_ALLOWED, Request::delete("/me").body(Body::empty()).unwrap()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json_post("/write", &writer, format!("\"{}\"", "x".repeat(4096)), "application/json"),
        ),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, json_post("/write", &writer, "{}".into(), "text/plain")),
        (StatusCode::BAD_REQUEST, json_post("/write", &writer, "{\"a\":".into(), "application/json")),
        (StatusCode::UNPROCESSABLE_ENTITY, json_post("/typed", &token, r#"{"n":"seven"}"#.into(), "application/json")),
        (StatusCode::INTERNAL_SERVER_ERROR, get_with_token("/boom", &token)),
    ];
    for (expected, request) in cases {
        let label = format!("{} {}", request.method(), request.uri());
        let reply = send(&app, request).await;
        assert_eq!(reply.status, expected, "{label}: {:?}", reply.body);
        assert_security_headers(&reply);
        if expected != StatusCode::OK {
            assert_eq!(reply.header("content-type"), "application/problem+json", "{label}");
            let body = reply.json();
            assert_eq!(body["status"], expected.as_u16(), "{label}");
            assert_eq!(body["title"], expected.canonical_reason().unwrap(), "{label}");
            assert!(body["detail"].is_string(), "{label}");
        }
    }
}

#[tokio::test]
async fn error_bodies_reveal_nothing_internal_or_sent() {
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let reply = send(&app, get_with_token("/boom", &token)).await;
    assert_eq!(reply.json()["detail"], "internal error");
    assert!(!String::from_utf8_lossy(&reply.body).contains("10.1.2.3"));

    // Malformed JSON: the position, not the payload.
    let request = Request::post("/typed")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"n\": SECRET-PAYLOAD}"))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert_eq!(detail, "the body is not valid JSON at line 1 column 7");

    // A wrong type: 422 with the field's pointer.
    let request = Request::post("/typed")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"n": -1}"#))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = reply.json();
    assert_eq!(body["errors"][0]["pointer"], "#/n");
    assert_eq!(body["errors"][0]["detail"], "invalid value: integer, expected u32");
}

#[tokio::test]
async fn request_id_is_kept_when_plain_and_replaced_when_not() {
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());
    let with_id = |id: &str| Request::get("/me").header("x-request-id", id).body(Body::empty()).unwrap();
    assert_eq!(send(&app, with_id("req-123")).await.header("x-request-id"), "req-123");
    let replaced = send(&app, with_id("evil\"id with spaces")).await;
    assert_ne!(replaced.header("x-request-id"), "evil\"id with spaces");
    assert_eq!(replaced.header("x-request-id").len(), 24);
}

#[tokio::test]
async fn hsts_only_when_served_over_tls() {
    let plain = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());
    let reply = send(&plain, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert!(reply.headers.get("strict-transport-security").is_none());
    let tls = test_app(&Security::builder(authenticator(&[Scheme::Hs256])).tls(true).build(), &Calls::default());
    let reply = send(&tls, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.header("strict-transport-security"), "max-age=63072000; includeSubDomains");
}

#[tokio::test]
async fn cors_answers_only_an_allowed_origin_and_exposes_what_a_client_acts_on() {
    let app = notes_app(&[("RAMPART_CORS_ORIGINS", "https://app.example")]).await;
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let request = |origin: &str| {
        Request::get("/notes")
            .header("origin", origin)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&app, request("https://app.example")).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("access-control-allow-origin"), "https://app.example");
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        "ratelimit,ratelimit-policy,retry-after,x-request-id,www-authenticate,dpop-nonce"
    );
    // Another origin gets the answer (the server cannot stop it) but no `Access-Control-Allow-Origin`:
    // the browser gives its page neither the body nor any header.
    let foreign = send(&app, request("https://evil.example")).await;
    assert!(foreign.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_browser_dpop_client_passes_the_preflight_and_a_foreign_origin_does_not() {
    let app = notes_app(&[("RAMPART_CORS_ORIGINS", "https://app.example")]).await;
    let preflight = |origin: &str| {
        Request::options("/notes")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,dpop")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&app, preflight("https://app.example")).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("access-control-allow-origin"), "https://app.example");
    assert_eq!(allowed.header("access-control-allow-headers"), "authorization,content-type,x-api-key,dpop");
    let foreign = send(&app, preflight("https://evil.example")).await;
    assert!(foreign.headers.get("access-control-allow-origin").is_none());
}
