//! Static files through the sanctioned way (`Router::mount_service`), over loopback HTTP: every
//! answer (files, a missing file, a path that climbs out, a wrong method) carries the secure
//! headers and a request id, and the services are in the inventory and the OpenAPI document.

use axum::http::StatusCode;
use rampart::{Router, SecuredRouter, Security, public};
use rampart_tests::*;
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};

/// Liveness.
#[public(get, path = "/health", reason = "probes")]
async fn health() -> &'static str {
    "ok"
}

/// A site with `robots.txt` and `public/assets/app.css`, in a directory that also holds a secret
/// next to (not under) the served one.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("public/assets")).unwrap();
    std::fs::write(dir.path().join("robots.txt"), "User-agent: *\nDisallow: /\n").unwrap();
    std::fs::write(dir.path().join("public/assets/app.css"), "body { margin: 0 }\n").unwrap();
    std::fs::write(dir.path().join("secret.env"), "RAMPART_JWT_SECRET=do-not-serve\n").unwrap();
    dir
}

fn router(dir: &std::path::Path) -> Router {
    Router::new()
        .mount(health)
        .mount_service("/robots.txt", ServeFile::new(dir.join("robots.txt")), "crawlers read it")
        .mount_service("/assets/{*file}", ServeDir::new(dir.join("public")), "the web client's static files")
        .with_docs(rampart::openapi::ApiDocs::new("site", "1"))
}

/// Serves `app` with `axum::serve`, which takes the secured router as it takes an axum one.
async fn serve(app: SecuredRouter) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

async fn call(method: reqwest::Method, url: String) -> Reply {
    let response = reqwest::Client::new().request(method, url).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    Reply { status, headers, body: response.bytes().await.unwrap() }
}

#[tokio::test]
async fn mounted_files_answer_with_the_secure_headers_whatever_the_outcome() {
    let dir = site();
    let address = serve(router(dir.path()).secured(&Security::new(authenticator(&[Scheme::Hs256])))).await;
    let get = |path: &str| call(reqwest::Method::GET, format!("http://{address}{path}"));

    let robots = get("/robots.txt").await;
    assert_eq!(robots.status, StatusCode::OK);
    assert_eq!(&robots.body[..], b"User-agent: *\nDisallow: /\n");
    assert_security_headers(&robots);

    let css = get("/assets/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css");
    assert_security_headers(&css);

    let head = call(reqwest::Method::HEAD, format!("http://{address}/robots.txt")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_security_headers(&head);

    // A missing file and a path that climbs out of the served directory: 404 problem+json.
    for path in ["/assets/missing.css", "/assets/../secret.env", "/assets/%2e%2e/secret.env"] {
        let missing = get(path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.header("content-type"), "application/problem+json", "{path}");
        assert_eq!(missing.json()["status"], 404);
        assert!(!String::from_utf8_lossy(&missing.body).contains("do-not-serve"));
        assert_security_headers(&missing);
    }

    // Only GET and HEAD: another method is 405 problem+json with the headers.
    let post = call(reqwest::Method::POST, format!("http://{address}/robots.txt")).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("content-type"), "application/problem+json");
    assert_security_headers(&post);
}

#[test]
fn mounted_services_are_public_routes_of_the_inventory_and_the_document() {
    let dir = site();
    let router = router(dir.path());
    let listed: Vec<String> = router.inventory().iter().map(ToString::to_string).collect();
    assert_eq!(
        listed[..3],
        [
            "GET /health public (probes)",
            "GET /robots.txt public (crawlers read it)",
            "GET /assets/{*file} public (the web client's static files)",
        ]
    );
    let document = serde_json::to_value(rampart::openapi::document(
        router.inventory(),
        &rampart::openapi::ApiDocs::new("site", "1"),
    ))
    .unwrap();
    let assets = &document["paths"]["/assets/{file}"]["get"];
    assert_eq!(assets["security"], json!([]));
    assert_eq!(assets["x-rampart-public"], "the web client's static files");
    assert_eq!(assets["operationId"], "serve_assets_file");
    assert_eq!(assets["parameters"][0]["name"], "file");
    assert_eq!(document["paths"]["/robots.txt"]["get"]["operationId"], "serve_robots_txt");
    // The document's own check agrees with what the router serves.
    assert_eq!(rampart::openapi::check(router.inventory(), &document), Ok(()));
}

#[test]
fn a_mounted_service_needs_a_reason() {
    let refused = std::panic::catch_unwind(|| {
        Router::<()>::new().mount_service("/robots.txt", axum::routing::get(|| async { "" }), " ")
    });
    let message = *refused.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(message, "mount_service `/robots.txt`: say why it needs no endpoint contract (the reason)");
}
