//! Validation from the attacker's side, on the notes service's `POST /notes`: exact pointers per
//! failing field, 400 for malformed JSON without echo, 415, 413 whatever the framing, and a valid
//! body passes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart_tests::*;
use serde_json::{Value, json};

async fn notes_app() -> axum::Router {
    rampart_tests::notes_app(&[]).await
}

fn writer() -> String {
    Scheme::Hs256.token(&claims("alice", "notes:write notes:read"))
}

fn post(body: impl Into<Body>, content_type: &str) -> Request<Body> {
    Request::post("/notes")
        .header("authorization", format!("Bearer {}", writer()))
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

async fn errors_of(app: &axum::Router, body: Value) -> Vec<(String, String)> {
    let reply = send(app, post(body.to_string(), "application/json")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", reply.body);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_security_headers(&reply);
    let problem = reply.json();
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["title"], "Unprocessable Entity");
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap().to_owned(), e["detail"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(pointer: &str, detail: &str) -> (String, String) {
    (pointer.to_owned(), detail.to_owned())
}

#[tokio::test]
async fn each_failing_field_has_its_pointer() {
    let app = notes_app().await;
    assert_eq!(errors_of(&app, json!({"title": ""})).await, [pair("#/title", "length is lower than 1")]);
    // Lengths count characters: 120 two-byte characters pass, 121 do not.
    assert_eq!(send(&app, post(json!({"title": "é".repeat(120)}).to_string(), "application/json")).await.status, 201);
    assert_eq!(
        errors_of(&app, json!({"title": "é".repeat(121)})).await,
        [pair("#/title", "length is greater than 120")]
    );
    assert_eq!(
        errors_of(&app, json!({"title": "bell\u{7}"})).await,
        [pair("#/title", "control character at position 4")]
    );
    assert_eq!(
        errors_of(&app, json!({"title": "t", "tags": ["ok", "fine-1", "x", "Not_OK"]})).await,
        [pair("#/tags/3", "does not match pattern /^[a-z0-9-]+$/")]
    );
    // The pattern is anchored: a valid prefix does not make a tag valid.
    assert_eq!(
        errors_of(&app, json!({"title": "t", "tags": ["abc\ndef"]})).await,
        [pair("#/tags/0", "does not match pattern /^[a-z0-9-]+$/")]
    );
    assert_eq!(
        errors_of(&app, json!({"title": "t", "tags": ["x".repeat(33)]})).await,
        [pair("#/tags/0", "length is greater than 32")]
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    assert_eq!(
        errors_of(&app, json!({"title": "t", "tags": eleven})).await,
        [pair("#/tags", "length is greater than 10")]
    );
    assert_eq!(
        errors_of(&app, json!({"title": "t", "body": "b".repeat(10_001)})).await,
        [pair("#/body", "length is greater than 10000")]
    );
    // Several failures: one entry each.
    let mut both = errors_of(&app, json!({"title": "", "tags": ["UP"]})).await;
    both.sort();
    assert_eq!(
        both,
        [pair("#/tags/0", "does not match pattern /^[a-z0-9-]+$/"), pair("#/title", "length is lower than 1")]
    );
}

#[tokio::test]
async fn unknown_duplicate_and_mistyped_fields_are_422() {
    let app = notes_app().await;
    for (body, detail) in [
        (r#"{"title": "t", "owner": "mallory"}"#, "unknown field, expected one of `title`, `body`, `tags`"),
        (r#"{"title": "t", "id": 7}"#, "unknown field, expected one of `title`, `body`, `tags`"),
        (r#"{"title": "a", "title": "b"}"#, "duplicate field `title`"),
        (r#"{"title": 5}"#, "invalid type: integer, expected a string"),
    ] {
        let reply = send(&app, post(body, "application/json")).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let problem = reply.json();
        assert_eq!(problem["errors"][0]["detail"], detail, "{body}");
    }
    let reply = send(&app, post(r#"{"title": 5}"#, "application/json")).await;
    assert_eq!(reply.json()["errors"][0]["pointer"], "#/title");
    // A plain unknown name is pointed at; one in other characters, or a long one, is not echoed.
    let reply = send(&app, post(r#"{"title": "t", "owner": "mallory"}"#, "application/json")).await;
    assert_eq!(reply.json()["errors"][0]["pointer"], "#/owner");
    let long = "a".repeat(200);
    for name in ["<script>alert(1)</script>", "../../etc", "a b", long.as_str()] {
        let body = format!(r#"{{"title": "t", "{name}": 1}}"#);
        let reply = send(&app, post(body.clone(), "application/json")).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        assert!(!text.contains("script") && !text.contains("etc") && !text.contains("aaaa"), "echoed: {text}");
        assert_eq!(reply.json()["errors"][0]["pointer"], "#", "{body}");
        assert_eq!(reply.json()["errors"][0]["detail"], "unknown field, expected one of `title`, `body`, `tags`");
    }
}

#[tokio::test]
async fn malformed_json_is_400_with_position_and_no_echo() {
    let app = notes_app().await;
    let reply = send(&app, post("{\"title\": \"t\",\n \"body\": SECRET-PAYLOAD}", "application/json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json()["detail"], "the body is not valid JSON at line 2 column 10");
    assert!(!String::from_utf8_lossy(&reply.body).contains("SECRET"));
}

#[tokio::test]
async fn wrong_media_type_is_415() {
    let app = notes_app().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
        let reply = send(&app, post(r#"{"title": "t"}"#, content_type)).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
    }
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_whatever_the_framing() {
    let app = notes_app().await;
    let big = format!(r#"{{"title": "t", "body": "{}"}}"#, "b".repeat(1024 * 1024 + 1));
    let reply = send(&app, post(big.clone(), "application/json")).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_security_headers(&reply);
    // Chunked: no Content-Length, the limit still holds while streaming.
    let chunks: Vec<Result<String, std::io::Error>> =
        big.as_bytes().chunks(64 * 1024).map(|c| Ok(String::from_utf8(c.to_vec()).unwrap())).collect();
    let stream = Body::from_stream(futures_stream(chunks));
    let reply = send(&app, post(stream, "application/json")).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Under the route's 1 MiB but over the body rule: 422, not 413.
    let reply =
        send(&app, post(format!(r#"{{"title": "t", "body": "{}"}}"#, "b".repeat(100_000)), "application/json")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

fn futures_stream(
    chunks: Vec<Result<String, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    tokio_stream::iter(chunks)
}

#[tokio::test]
async fn a_valid_body_passes() {
    let app = notes_app().await;
    let reply = send(
        &app,
        post(json!({"title": "Groceries", "body": "milk", "tags": ["home", "todo-1"]}).to_string(), "application/json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let note = reply.json();
    assert_eq!(note["title"], "Groceries");
    assert_eq!(note["tags"], json!(["home", "todo-1"]));
    assert_eq!(note["owner"], "alice");
}

// ---- garde contexts: the context comes from an `Extension` layered on the router ----

#[derive(Clone)]
struct Limits {
    max_title: usize,
}

#[derive(serde::Deserialize, garde::Validate)]
#[garde(context(Limits as limits))]
struct Titled {
    #[garde(length(chars, max = limits.max_title))]
    title: String,
}

/// Creates something whose title limit is configured at run time.
#[rampart::secure(post, path = "/titled", scope = "notes:write")]
async fn titled(
    _user: rampart::auth::Principal,
    rampart::extract::Json(input): rampart::extract::Json<Titled>,
) -> String {
    input.title
}

fn titled_app(limits: Option<Limits>) -> axum::Router {
    let security = rampart::Security::new(authenticator(&[Scheme::Hs256]));
    let router = rampart::Router::new().mount(titled).secured(&security).into_axum();
    match limits {
        Some(limits) => router.layer(axum::Extension(limits)),
        None => router,
    }
}

fn post_titled(title: &str) -> Request<Body> {
    Request::post("/titled")
        .header("authorization", format!("Bearer {}", writer()))
        .header("content-type", "application/json")
        .body(Body::from(json!({"title": title}).to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_garde_context_from_an_extension_drives_validation() {
    let app = titled_app(Some(Limits { max_title: 5 }));
    let ok = send(&app, post_titled("short")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(&ok.body[..], b"short");
    let long = send(&app, post_titled("longer")).await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long.json()["errors"][0]["pointer"], "#/title");
}

#[tokio::test]
async fn a_missing_garde_context_is_a_server_error_not_a_skipped_check() {
    let reply = send(&titled_app(None), post_titled("anything")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert!(!String::from_utf8_lossy(&reply.body).contains("Limits"), "no internals in the body");
}
