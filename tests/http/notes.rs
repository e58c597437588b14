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

#[tokio::test]
async fn an_api_key_given_a_role_in_the_environment_reaches_a_role_protected_route() {
    let operator = "an-operator-key-0123456789abcdef";
    let plain = "a-key-without-the-role-0123456789";
    // `id:sha256hex:scopes|roles`: the operator key has no scope, only the `admin` role.
    let spec = format!("ops:{}:|admin;reader:{}:notes:read", sha256_hex(operator), sha256_hex(plain));
    let app = notes_app(&[("RAMPART_API_KEYS", &spec)]).await;
    let alice = Scheme::Hs256.token(&claims("alice", "notes:read notes:write"));
    let create = Request::post("/notes")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"title": "to be removed by an operator"}).to_string()))
        .unwrap();
    let id = send(&app, create).await.json()["id"].as_u64().unwrap();
    let delete =
        |key: &str| Request::delete(format!("/notes/{id}")).header("x-api-key", key).body(Body::empty()).unwrap();

    // `DELETE /notes/{id}` is any(role = "admin", scope = "notes:write"): a key with neither is
    // refused with the scope challenge, and the note is still there.
    let refused = send(&app, delete(plain)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.header("www-authenticate"), r#"Bearer error="insufficient_scope", scope="notes:write""#);
    assert_eq!(send(&app, get_with_token(&format!("/notes/{id}"), &alice)).await.status, StatusCode::OK);

    // The role from the environment is enough (admins act as owners of every note).
    assert_eq!(send(&app, delete(operator)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, get_with_token(&format!("/notes/{id}"), &alice)).await.status, StatusCode::NOT_FOUND);
}
