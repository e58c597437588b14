//! One principal per identity: an OAuth client registered under the same name as a user gets
//! tokens of its own kind (`gty: client-credentials`), whose qualified subject can never equal
//! the user's, so it sees, reads and deletes none of the user's notes.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Service;

const SECRET: &str = "identity-test-secret-0123456789abcdef-012";
const CLIENT_SECRET: &str = "a-long-client-secret-for-dev-user";

#[tokio::test]
async fn a_client_named_like_a_user_sees_none_of_the_users_notes() {
    let clients = format!("dev-user:{CLIENT_SECRET}:notes:read notes:write");
    let service = Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_OAUTH_CLIENTS", clients.as_str())]);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", service.addr);

    // The user dev-user (a token from the issuer, as `cargo run -p notes` prints) writes a note.
    let user = TokenRequest::new("dev-user", "rampart-dev", "notes")
        .scopes(["notes:read", "notes:write"])
        .sign_hs256(SECRET.as_bytes())
        .unwrap();
    let created = http.post(url("/notes")).bearer_auth(&user).json(&json!({"title": "mine"})).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let note: Value = created.json().await.unwrap();
    let id = note["id"].as_i64().unwrap();

    // The OAuth client dev-user gets a token: same issuer, same `sub`, another principal.
    let granted = http
        .post(url("/oauth/token"))
        .basic_auth("dev-user", Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let client: Value = granted.json().await.unwrap();
    let client = client["access_token"].as_str().unwrap().to_owned();

    let listed: Value = http.get(url("/notes")).bearer_auth(&client).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, json!({"items": [], "next_cursor": null}), "the client lists none of the user's notes");
    let read = http.get(url(&format!("/notes/{id}"))).bearer_auth(&client).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    let deleted = http.delete(url(&format!("/notes/{id}"))).bearer_auth(&client).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);

    // The client's own notes are its own; the user's note is untouched and still the user's.
    let own = http.post(url("/notes")).bearer_auth(&client).json(&json!({"title": "the client's"})).send().await;
    assert_eq!(own.unwrap().status(), StatusCode::CREATED);
    let listed: Value = http.get(url("/notes")).bearer_auth(&user).send().await.unwrap().json().await.unwrap();
    let titles: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["mine"]);
}
