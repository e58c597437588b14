//! Sharing in the notes service, from every caller's side: the owner, an admin, an editor, a
//! viewer and a stranger, on each route of the contract (`GET`/`PATCH`/`DELETE /notes/{id}`,
//! `POST /notes/{id}/shares`, `DELETE /notes/{id}/shares/{subject}`, `GET /notes?shared=true`).
//! The service runs over loopback TCP with its relation tuples in real SQLite, and is called with
//! a real HTTP client; every denial is checked for its exact status and problem body.

use std::net::SocketAddr;

use rampart_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Serves the notes service on a loopback port; the server stops with the test's runtime.
async fn serve(extra: &[(&str, &str)]) -> SocketAddr {
    let app = notes_app(extra).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

fn user(sub: &str) -> String {
    Scheme::Hs256.token(&claims(sub, "notes:read notes:write"))
}

fn admin(sub: &str) -> String {
    let mut grant = claims(sub, "notes:read notes:write");
    grant["roles"] = json!(["admin"]);
    Scheme::Hs256.token(&grant)
}

struct Notes {
    address: SocketAddr,
    client: reqwest::Client,
}

impl Notes {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("http://{}{path}", self.address)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn create(&self, token: &str, title: &str) -> i64 {
        let (status, note) =
            self.call(Method::POST, "/notes", token, Some(json!({"title": title, "body": "plans"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        note["id"].as_i64().unwrap()
    }

    async fn share(&self, token: &str, id: i64, subject: &str, relation: &str) -> (StatusCode, Value) {
        let body = json!({"subject": subject, "relation": relation});
        self.call(Method::POST, &format!("/notes/{id}/shares"), token, Some(body)).await
    }
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "the resource was not found"}),
    )
}

fn forbidden() -> (StatusCode, Value) {
    (
        StatusCode::FORBIDDEN,
        json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "your access to this resource does not allow this operation"}),
    )
}

async fn notes() -> Notes {
    Notes { address: serve(&[]).await, client: reqwest::Client::new() }
}

#[tokio::test]
async fn every_caller_gets_what_its_relation_allows_on_each_route() {
    let notes = notes().await;
    let (alice, bob, carol, mallory, root) =
        (user("alice"), user("bob"), user("carol"), user("mallory"), admin("root"));
    let id = notes.create(&alice, "plans").await;
    let note = format!("/notes/{id}");

    // Before any share, only the owner and an admin see it.
    assert_eq!(notes.call(Method::GET, &note, &alice, None).await.0, StatusCode::OK);
    assert_eq!(notes.call(Method::GET, &note, &root, None).await.0, StatusCode::OK);
    assert_eq!(notes.call(Method::GET, &note, &bob, None).await, not_found());

    // The owner shares: bob edits, carol views.
    assert_eq!(notes.share(&alice, id, "bob", "editor").await, (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(notes.share(&alice, id, "carol", "viewer").await, (StatusCode::NO_CONTENT, Value::Null));

    // GET: owner, admin, editor, viewer read it; a stranger gets the 404 of a missing note.
    for reader in [&alice, &root, &bob, &carol] {
        let (status, body) = notes.call(Method::GET, &note, reader, None).await;
        assert_eq!((status, &body["title"]), (StatusCode::OK, &json!("plans")));
    }
    assert_eq!(notes.call(Method::GET, &note, &mallory, None).await, not_found());
    assert_eq!(notes.call(Method::GET, "/notes/123456789", &alice, None).await, not_found());

    // PATCH: owner, admin, editor change it; a viewer is refused with 403; a stranger 404.
    let (status, body) = notes.call(Method::PATCH, &note, &bob, Some(json!({"title": "bob's plans"}))).await;
    assert_eq!((status, &body["title"], &body["body"]), (StatusCode::OK, &json!("bob's plans"), &json!("plans")));
    let (status, body) = notes.call(Method::PATCH, &note, &bob, Some(json!({"body": "new plans"}))).await;
    assert_eq!((status, &body["body"], &body["owner"]), (StatusCode::OK, &json!("new plans"), &json!("alice")));
    assert_eq!(notes.call(Method::PATCH, &note, &root, Some(json!({"tags": ["ops"]}))).await.0, StatusCode::OK);
    assert_eq!(notes.call(Method::PATCH, &note, &carol, Some(json!({"title": "mine"}))).await, forbidden());
    assert_eq!(notes.call(Method::PATCH, &note, &mallory, Some(json!({"title": "mine"}))).await, not_found());
    let (status, body) = notes.call(Method::PATCH, &note, &alice, Some(json!({"title": "alice's plans"}))).await;
    assert_eq!((status, &body["title"], &body["owner"]), (StatusCode::OK, &json!("alice's plans"), &json!("alice")));
    assert_eq!(notes.call(Method::PATCH, &note, &bob, Some(json!({"title": "bob's plans"}))).await.0, StatusCode::OK);
    // A token without notes:write is refused before the note is even loaded.
    let reader = Scheme::Hs256.token(&claims("bob", "notes:read"));
    let (status, body) = notes.call(Method::PATCH, &note, &reader, Some(json!({"title": "x"}))).await;
    assert_eq!((status, &body["status"]), (StatusCode::FORBIDDEN, &json!(403)));
    // The create rules apply to each field given.
    for (field, bad) in [("title", json!("")), ("body", json!("x".repeat(10_001))), ("tags", json!(["no spaces"]))] {
        let (status, body) = notes.call(Method::PATCH, &note, &alice, Some(json!({field: bad}))).await;
        let pointer = body["errors"][0]["pointer"].as_str().unwrap_or_default().to_owned();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert!(pointer.starts_with(&format!("#/{field}")), "{field}: {body}");
    }
    // The body an editor wrote is still sealed to the owner's row: the owner reads it.
    let (_, read) = notes.call(Method::GET, &note, &alice, None).await;
    assert_eq!(
        (&read["title"], &read["body"], &read["tags"]),
        (&json!("bob's plans"), &json!("new plans"), &json!(["ops"]))
    );

    // Sharing: an editor or a viewer may read the note but not share it (403); a stranger 404.
    assert_eq!(notes.share(&bob, id, "mallory", "viewer").await, forbidden());
    assert_eq!(notes.share(&carol, id, "mallory", "editor").await, forbidden());
    assert_eq!(notes.share(&mallory, id, "mallory", "editor").await, not_found());
    // An unknown relation is 422 for the owner, and still 404 for a stranger.
    let (status, body) = notes.share(&alice, id, "dave", "owner").await;
    assert_eq!((status, &body["status"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(422)));
    assert_eq!(notes.share(&mallory, id, "dave", "owner").await, not_found());
    // An admin shares too.
    assert_eq!(notes.share(&root, id, "dave", "viewer").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::GET, &note, &user("dave"), None).await.0, StatusCode::OK);

    // DELETE: an editor or a viewer is refused with 403, a stranger 404; an admin deletes
    // another of alice's notes, the owner this one.
    let other_id = notes.create(&alice, "old plans").await;
    let other = format!("/notes/{other_id}");
    assert_eq!(notes.share(&alice, other_id, "bob", "editor").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::DELETE, &other, &bob, None).await, forbidden());
    assert_eq!(notes.call(Method::DELETE, &other, &root, None).await, (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(notes.call(Method::GET, &other, &alice, None).await, not_found());
    assert_eq!(notes.call(Method::DELETE, &note, &bob, None).await, forbidden());
    assert_eq!(notes.call(Method::DELETE, &note, &carol, None).await, forbidden());
    assert_eq!(notes.call(Method::DELETE, &note, &mallory, None).await, not_found());
    assert_eq!(notes.call(Method::DELETE, &note, &alice, None).await, (StatusCode::NO_CONTENT, Value::Null));
    // Gone for everyone, shares included.
    for reader in [&alice, &bob, &carol] {
        assert_eq!(notes.call(Method::GET, &note, reader, None).await, not_found());
    }
    assert_eq!(notes.call(Method::GET, "/notes?shared=true", &bob, None).await.1["items"], json!([]));
}

#[tokio::test]
async fn a_revoked_share_is_a_404_again_and_only_the_owner_or_an_admin_revokes() {
    let notes = notes().await;
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let id = notes.create(&alice, "plans").await;
    let note = format!("/notes/{id}");
    assert_eq!(notes.share(&alice, id, "bob", "viewer").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::GET, &note, &bob, None).await.0, StatusCode::OK);

    // The viewer cannot revoke (403), nor can an editor, a stranger cannot (404).
    let revoke_bob = format!("/notes/{id}/shares/bob");
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &bob, None).await, forbidden());
    assert_eq!(notes.share(&alice, id, "dave", "editor").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &user("dave"), None).await, forbidden());
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &carol, None).await, not_found());
    assert_eq!(notes.call(Method::GET, &note, &bob, None).await.0, StatusCode::OK);

    // The owner revokes: bob is a stranger again.
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &alice, None).await, (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(notes.call(Method::GET, &note, &bob, None).await, not_found());
    assert_eq!(notes.call(Method::GET, "/notes?shared=true", &bob, None).await.1["items"], json!([]));
    // Revoking again is still 204; an admin may revoke as well.
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &alice, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.share(&alice, id, "bob", "editor").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::DELETE, &revoke_bob, &admin("root"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::GET, &note, &bob, None).await, not_found());
}

#[tokio::test]
async fn the_shared_list_holds_what_others_shared_and_the_own_list_what_the_caller_owns() {
    let notes = notes().await;
    let (alice, bob) = (user("alice"), user("bob"));
    let first = notes.create(&alice, "first").await;
    let second = notes.create(&alice, "second").await;
    let unshared = notes.create(&alice, "private").await;
    let own = notes.create(&bob, "bob's own").await;
    assert_eq!(notes.share(&alice, first, "bob", "viewer").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.share(&alice, second, "bob", "editor").await.0, StatusCode::NO_CONTENT);
    // Sharing again replaces the relation: still one entry.
    assert_eq!(notes.share(&alice, second, "bob", "viewer").await.0, StatusCode::NO_CONTENT);

    let ids = |page: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    let mut expected = vec![first, second];
    expected.sort_unstable();
    let (status, shared) = notes.call(Method::GET, "/notes?shared=true", &bob, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&shared), expected);
    assert!(!ids(&shared).contains(&unshared));
    assert_eq!(ids(&notes.call(Method::GET, "/notes", &bob, None).await.1), vec![own]);
    // Paging keeps the shape: one per page, then the next.
    let (_, page) = notes.call(Method::GET, "/notes?shared=true&limit=1", &bob, None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = notes.call(Method::GET, &format!("/notes?shared=true&limit=1&cursor={cursor}"), &bob, None).await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_eq!(next["next_cursor"], Value::Null);
    // The owner's own list is unchanged by sharing; nothing is shared with her.
    assert_eq!(ids(&notes.call(Method::GET, "/notes", &alice, None).await.1).len(), 3);
    assert_eq!(notes.call(Method::GET, "/notes?shared=true", &alice, None).await.1["items"], json!([]));
}

#[tokio::test]
async fn a_share_names_a_user_never_a_client_of_the_same_name() {
    let notes = notes().await;
    let alice = user("alice");
    let id = notes.create(&alice, "plans").await;
    assert_eq!(notes.share(&alice, id, "svc", "viewer").await.0, StatusCode::NO_CONTENT);
    // A client-credentials token whose `sub` is `svc` is not the user `svc`.
    let mut client = claims("svc", "notes:read");
    client["gty"] = json!("client-credentials");
    let client = Scheme::Hs256.token(&client);
    assert_eq!(notes.call(Method::GET, &format!("/notes/{id}"), &client, None).await, not_found());
    // The user `svc` of the same issuer reads it.
    assert_eq!(notes.call(Method::GET, &format!("/notes/{id}"), &user("svc"), None).await.0, StatusCode::OK);
    // A user `svc` of another issuer does not.
    let mut foreign = claims("svc", "notes:read");
    foreign["iss"] = json!("https://other.test");
    let other = Scheme::Hs256.token(&foreign);
    let (status, _) = notes.call(Method::GET, &format!("/notes/{id}"), &other, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other issuer is not trusted at all");
}

#[tokio::test]
async fn every_refusal_on_a_resource_is_audited_with_its_reason_and_without_the_token() {
    // This binary's only global subscriber: the other tests' lines land here too, so the
    // events are picked by their reason and route.
    let log = CapturedLog::default();
    tracing::subscriber::set_global_default(rampart::audit::json_subscriber_with_writer(log.clone())).unwrap();
    let notes = notes().await;
    let (alice, bob, mallory) = (user("alice"), user("bob"), user("mallory"));
    let id = notes.create(&alice, "plans").await;
    assert_eq!(notes.share(&alice, id, "bob", "viewer").await.0, StatusCode::NO_CONTENT);
    assert_eq!(notes.call(Method::GET, &format!("/notes/{id}"), &mallory, None).await, not_found());
    assert_eq!(notes.call(Method::DELETE, &format!("/notes/{id}"), &bob, None).await, forbidden());
    assert_eq!(notes.call(Method::GET, "/notes/987654321", &mallory, None).await, not_found());

    let events: Vec<Value> = log.text().lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let event = |reason: &str, method: &str, subject: &str| {
        events
            .iter()
            .find(|e| {
                e["reason"] == reason && e["method"] == method && e["route"] == "/notes/{id}" && e["subject"] == subject
            })
            .unwrap_or_else(|| panic!("no {reason} event for {method} by {subject} in {events:#?}"))
            .clone()
    };
    let hidden = event("no_relation", "GET", "mallory");
    assert_eq!((&hidden["decision"], &hidden["status"]), (&json!("deny"), &json!(404)));
    let refused = event("insufficient_relation", "DELETE", "bob");
    assert_eq!((&refused["decision"], &refused["status"]), (&json!("deny"), &json!(403)));
    let missing = event("resource_not_found", "GET", "mallory");
    assert_eq!((&missing["decision"], &missing["status"]), (&json!("deny"), &json!(404)));
    let text = log.text();
    for token in [&alice, &bob, &mallory] {
        assert!(!text.contains(token.as_str()), "a token reached the audit log");
    }
}
