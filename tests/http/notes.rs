//! Ownership in the notes service compares qualified subjects: an API key or another scheme whose
//! id equals a user's `sub` is not that user.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart_tests::*;
use serde_json::json;

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn an_api_key_named_like_a_user_does_not_own_the_users_notes() {
    let key = "an-api-key-named-alice-0123456789";
    let spec = format!("alice:{}:notes:read notes:write", sha256_hex(key));
    let app = notes_app(&[("RAMPART_API_KEYS", &spec)]).await;
    let alice = Scheme::Hs256.token(&claims("alice", "notes:read notes:write"));
    let create = Request::post("/notes")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"title": "private"}).to_string()))
        .unwrap();
    let created = send(&app, create).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_u64().unwrap();

    let as_key = |path: String| Request::get(path).header("x-api-key", key).body(Body::empty()).unwrap();
    assert_eq!(send(&app, as_key(format!("/notes/{id}"))).await.status, StatusCode::NOT_FOUND);
    let listed = send(&app, as_key("/notes".into())).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()["items"], json!([]));
    // The real owner still sees it.
    assert_eq!(send(&app, get_with_token(&format!("/notes/{id}"), &alice)).await.status, StatusCode::OK);
}
