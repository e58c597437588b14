//! Two notes processes: one issues tokens and answers `/oauth/introspect` (the authorization
//! server), the other has no JWT key and checks every token there (the resource server, RFC
//! 7662). Its caches are proven by the authorization server's own request count (`/metrics`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::contract::{client, token};
use super::deployment::{Backend, Deployment};
use super::service::{SEAL_KEY, Service};

/// How many `/oauth/introspect` requests `service` has answered, by its `/metrics`.
async fn introspections(service: &Service) -> u64 {
    let log = service.log();
    let metrics = log
        .lines()
        .find_map(|line| line.strip_prefix("metrics on "))
        .unwrap_or_else(|| panic!("no metrics address in the log: {log}"))
        .to_owned();
    let text = client().get(&metrics).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with("rampart_requests_total{") && line.contains(r#"route="/oauth/introspect""#))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The count once it reaches `expected` (a response's metrics are recorded as its body ends),
/// checked again a moment later so that a larger count is not missed.
async fn settled_introspections(service: &Service, expected: u64) -> u64 {
    for _ in 0..40 {
        if introspections(service).await >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    introspections(service).await
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let reply = request.send().await.unwrap();
    let (status, headers) = (reply.status(), reply.headers().clone());
    let body = reply.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[test]
fn a_resource_server_checks_tokens_at_the_authorization_servers_introspection_endpoint() {
    let rt = super::runtime();
    let mut deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    let resource_client = ("notes-resource-server".to_owned(), "resource-server-secret-0123456789abcdef".to_owned());
    for (name, value) in &mut deployment.env {
        if name == "RAMPART_OAUTH_CLIENTS" {
            value.push_str(&format!(",{}:{}:", resource_client.0, resource_client.1));
        }
    }
    let authorization_server = Service::start(&deployment.env);

    let dir = tempfile::tempdir().unwrap();
    let resource_env: Vec<(String, String)> = [
        ("RAMPART_SEAL_KEY", SEAL_KEY.to_owned()),
        ("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.path().join("resource.db").display())),
        ("RAMPART_INTROSPECTION_URL", authorization_server.url("/oauth/introspect")),
        ("RAMPART_INTROSPECTION_CLIENT_ID", resource_client.0.clone()),
        ("RAMPART_INTROSPECTION_CLIENT_SECRET", resource_client.1.clone()),
        ("RAMPART_INTROSPECTION_CACHE_SECS", "3".to_owned()),
        ("RAMPART_INTROSPECTION_NEGATIVE_CACHE_SECS", "1".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let resource_server = Service::start(&resource_env);

    rt.block_on(async {
        let writer = token(&authorization_server, &deployment.clients.writer, Some("notes:read notes:write")).await;
        let reader = token(&authorization_server, &deployment.clients.reader, Some("notes:read")).await;
        assert_eq!(introspections(&authorization_server).await, 0);

        // One introspection for the writer's token, however many requests it makes.
        let (status, _, note) = send(
            client()
                .post(resource_server.url("/notes"))
                .bearer_auth(&writer)
                .json(&json!({"title": "introspected", "body": "checked at the issuer", "tags": []})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
        let note_url = resource_server.url(&format!("/notes/{}", note["id"]));
        for _ in 0..3 {
            let (status, _, body) = send(client().get(&note_url).bearer_auth(&writer)).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["body"], "checked at the issuer");
        }
        assert_eq!(settled_introspections(&authorization_server, 1).await, 1, "four requests, one introspection");

        // The answer's scopes are enforced: the reader cannot write.
        let (status, headers, _) = send(
            client().post(resource_server.url("/notes")).bearer_auth(&reader).json(&json!({"title": "t", "body": "b"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(headers["www-authenticate"], r#"Bearer error="insufficient_scope", scope="notes:write""#);
        // An OAuth client's token stays a client's: the reader (another client) does not see the
        // writer's note, and neither is a user.
        let (status, _, _) = send(client().get(&note_url).bearer_auth(&reader)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(settled_introspections(&authorization_server, 2).await, 2);

        // An invented token: 401 invalid_token, one introspection for three requests, then
        // asked again once the negative cache's second is over.
        for _ in 0..3 {
            let (status, headers, body) =
                send(client().get(resource_server.url("/notes")).bearer_auth("invented-opaque-token")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                headers["www-authenticate"],
                r#"Bearer realm="api", error="invalid_token", error_description="the access token is invalid""#
            );
            assert_eq!(body["status"], 401);
        }
        assert_eq!(settled_introspections(&authorization_server, 3).await, 3, "refusal remembered");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, _, _) =
            send(client().get(resource_server.url("/notes")).bearer_auth("invented-opaque-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(settled_introspections(&authorization_server, 4).await, 4, "asked again after a second");

        // The active answer is used for at most RAMPART_INTROSPECTION_CACHE_SECS (3 s).
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let (status, _, _) = send(client().get(&note_url).bearer_auth(&writer)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(settled_introspections(&authorization_server, 5).await, 5, "asked again after the cache time");
    });

    let log = resource_server.log();
    assert!(log.contains("introspected at"), "the start-up says where tokens are checked: {log}");
    assert!(!log.contains(&resource_client.1), "the client secret reached the log");
    assert!(!log.contains("invented-opaque-token"), "a token reached the log");
}
