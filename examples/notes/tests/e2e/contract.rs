//! The whole contract of DESIGN.md against a running service, through a real HTTP client.

use std::time::Duration;

use base64::Engine as _;
use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::deployment::Clients;
use super::service::{JWT_SECRET, Service};

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(id), encode(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// `POST /oauth/token` with `client_secret_basic`.
pub(crate) async fn token(service: &Service, (id, secret): &(String, String), scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let reply = client()
        .post(service.url("/oauth/token"))
        .header("authorization", basic(id, secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.headers()["cache-control"], "no-store");
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none());
    body["access_token"].as_str().unwrap().to_owned()
}

async fn oauth_errors(service: &Service, clients: &Clients) {
    let (id, secret) = &clients.writer;
    let url = service.url("/oauth/token");

    // client_secret_post, scope narrowed to one of the allowed scopes.
    let reply = client()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "notes:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.json::<Value>().await.unwrap()["scope"], "notes:read");

    // No scope: every allowed scope.
    let reply = client()
        .post(&url)
        .header("authorization", basic(id, secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.json::<Value>().await.unwrap()["scope"], "notes:read notes:write");

    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        // A scope outside the client's allowance.
        (
            client()
                .post(&url)
                .header("authorization", basic(&clients.reader.0, &clients.reader.1))
                .form(&[("grant_type", "client_credentials"), ("scope", "notes:write")]),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        // A wrong secret, by Basic and by post.
        (
            client()
                .post(&url)
                .header("authorization", basic(id, "wrong-secret"))
                .form(&[("grant_type", "client_credentials")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            client().post(&url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", "nope"),
            ]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        // An unknown client.
        (
            client()
                .post(&url)
                .header("authorization", basic("nobody", secret))
                .form(&[("grant_type", "client_credentials")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        // Another grant type.
        (
            client().post(&url).header("authorization", basic(id, secret)).form(&[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
            ]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        // Two authentication methods at once.
        (
            client().post(&url).header("authorization", basic(id, secret)).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        // JSON instead of a form.
        (
            client()
                .post(&url)
                .header("authorization", basic(id, secret))
                .json(&json!({"grant_type": "client_credentials"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (request, status, error) in cases {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), status, "{error}");
        assert_eq!(reply.headers()["cache-control"], "no-store");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.headers()["www-authenticate"], "Basic realm=\"token\"");
        }
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], error);
        assert!(body["error_description"].is_string());
        assert!(!body.to_string().contains(secret.as_str()), "the secret is never echoed");
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let headers = reply.headers().clone();
    let bytes = reply.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, headers, body)
}

/// Runs the contract; returns the id of a note the writer created and left in place.
pub(crate) async fn run(service: &Service, clients: &Clients) -> i64 {
    let http = client();
    oauth_errors(service, clients).await;
    let writer = token(service, &clients.writer, None).await;
    let reader = token(service, &clients.reader, None).await;

    // Public routes.
    let (status, headers, body) = send(http.get(service.url("/health"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, _, spec) = send(http.get(service.url("/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");

    // No token, a bad token (even with a bad body): 401 first.
    let (status, headers, body) = send(http.get(service.url("/notes"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["status"], 401);
    let (status, headers, _) = send(
        http.post(service.url("/notes"))
            .bearer_auth("not.a.token")
            .body("{not json")
            .header("content-type", "text/plain"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    // A token in the query string is ignored.
    let (status, ..) = send(http.get(service.url(&format!("/notes?access_token={writer}")))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Create, list, get.
    let (status, headers, created) = send(
        http.post(service.url("/notes"))
            .bearer_auth(&writer)
            .json(&json!({"title": "first", "body": "secret plans", "tags": ["work", "q3"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(headers.contains_key("ratelimit") && headers.contains_key("ratelimit-policy"));
    let id = created["id"].as_i64().unwrap();
    assert!(id > 0 && id < (1 << 53));
    assert_eq!(created["title"], "first");
    assert_eq!(created["body"], "secret plans");
    assert_eq!(created["tags"], json!(["work", "q3"]));
    assert_eq!(created["owner"], clients.writer.0.as_str());

    let (status, _, list) = send(http.get(service.url("/notes")).bearer_auth(&writer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["next_cursor"], Value::Null);
    let (status, _, got) = send(http.get(service.url(&format!("/notes/{id}"))).bearer_auth(&writer)).await;
    assert_eq!((status, &got["body"]), (StatusCode::OK, &json!("secret plans")));

    // Another client: its list is empty, the note is 404 for it (not 403), and it cannot write.
    let (_, _, list) = send(http.get(service.url("/notes")).bearer_auth(&reader)).await;
    assert_eq!(list["items"], json!([]));
    let (status, _, body) = send(http.get(service.url(&format!("/notes/{id}"))).bearer_auth(&reader)).await;
    assert_eq!((status, &body["status"]), (StatusCode::NOT_FOUND, &json!(404)));
    let (status, _, _) = send(http.delete(service.url(&format!("/notes/{id}"))).bearer_auth(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, body) =
        send(http.post(service.url("/notes")).bearer_auth(&reader).json(&json!({"title": "nope"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["www-authenticate"], "Bearer error=\"insufficient_scope\", scope=\"notes:write\"");
    assert_eq!(body["status"], 403);

    // An admin (a token with the `admin` role) may read and delete anyone's note.
    let admin = TokenRequest::new("root-admin", "rampart-dev", "notes")
        .scopes(["notes:read"])
        .roles(["admin"])
        .sign_hs256(JWT_SECRET.as_bytes())
        .unwrap();
    let (status, ..) = send(http.get(service.url(&format!("/notes/{id}"))).bearer_auth(&admin)).await;
    assert_eq!(status, StatusCode::OK);

    // Validation: exact pointers; unknown fields and `owner` rejected; 415; 413 at 1 MiB.
    let (status, _, body) = send(
        http.post(service.url("/notes")).bearer_auth(&writer).json(&json!({"title": "", "tags": ["ok", "Not OK"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["#/tags/1", "#/title"]);
    let (status, ..) =
        send(http.post(service.url("/notes")).bearer_auth(&writer).json(&json!({"title": "x", "owner": "someone"})))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, ..) = send(http.post(service.url("/notes")).bearer_auth(&writer).body("title=x")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"title": "big", "body": "x".repeat(1024 * 1024)}).to_string();
    let (status, ..) = send(
        http.post(service.url("/notes")).bearer_auth(&writer).header("content-type", "application/json").body(huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, ..) = send(http.get(service.url("/notes?limit=101")).bearer_auth(&writer)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Delete: 204, then 404; the admin-deleted note is gone too.
    let (status, _, second) =
        send(http.post(service.url("/notes")).bearer_auth(&writer).json(&json!({"title": "second"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = second["id"].as_i64().unwrap();
    let (status, _, body) = send(http.delete(service.url(&format!("/notes/{second}"))).bearer_auth(&writer)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, ..) = send(http.get(service.url(&format!("/notes/{second}"))).bearer_auth(&writer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Pagination: three more notes, pages of two.
    for title in ["p1", "p2", "p3"] {
        let (status, ..) =
            send(http.post(service.url("/notes")).bearer_auth(&writer).json(&json!({"title": title}))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, _, page1) = send(http.get(service.url("/notes?limit=2")).bearer_auth(&writer)).await;
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, page2) =
        send(http.get(service.url(&format!("/notes?limit=2&cursor={cursor}"))).bearer_auth(&writer)).await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["next_cursor"], Value::Null);

    // The rate limit runs before the body is read: every authorized POST above counted (first,
    // four refused bodies, second, three pages: 9). Keep posting: the 11th is 429.
    let mut statuses = Vec::new();
    loop {
        let (status, headers, body) =
            send(http.post(service.url("/notes")).bearer_auth(&writer).json(&json!({"title": "flood"}))).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
            assert_eq!(headers["ratelimit-policy"], "\"default\";q=10;w=60");
            assert_eq!(body["status"], 429);
            break;
        }
        assert_eq!(status, StatusCode::CREATED);
        statuses.push(status);
        assert!(statuses.len() <= 10, "no 429 within the minute's quota");
    }
    assert_eq!(statuses.len(), 1, "the 10th authorized POST of the minute passes, the 11th is refused");
    id
}
