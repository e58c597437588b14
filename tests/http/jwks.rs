//! JWKS against a real HTTP server on 127.0.0.1: rotation without restart, refresh rate limited
//! under a flood of invented `kid`s, cached keys kept while the server is down, periodic refresh.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use rampart::Security;
use rampart::auth::{Authenticator, Issuer, JwtVerifier};
use rampart_tests::*;
use serde_json::json;
use tokio::sync::oneshot;

#[derive(Clone, Default)]
struct JwksServerState {
    keys: Arc<Mutex<JwkSet>>,
    hits: Arc<AtomicUsize>,
}

struct JwksServer {
    url: reqwest::Url,
    state: JwksServerState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start() -> Self {
        async fn jwks(State(state): State<JwksServerState>) -> Json<JwkSet> {
            state.hits.fetch_add(1, Ordering::SeqCst);
            Json(state.keys.lock().unwrap().clone())
        }
        let state = JwksServerState::default();
        let app = Router::new().route("/jwks.json", get(jwks)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { url, state, stop: Some(stop), task }
    }

    fn publish(&self, keys: &[(&str, &EncodingKey, Algorithm)]) {
        let keys = keys
            .iter()
            .map(|(kid, key, alg)| {
                let mut jwk = Jwk::from_encoding_key(key, *alg).unwrap();
                jwk.common.key_id = Some((*kid).to_owned());
                jwk
            })
            .collect();
        *self.state.keys.lock().unwrap() = JwkSet { keys };
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap();
    }
}

fn ec1() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec.key.pem")).unwrap()
}
fn ec2() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec2.key.pem")).unwrap()
}

fn token(kid: &str, key: &EncodingKey) -> String {
    sign(&json!({"alg": "ES256", "kid": kid}), &claims("alice", "notes:read"), key, Algorithm::ES256)
}

fn app(url: &reqwest::Url, refresh_every: Duration, min_refresh: Duration) -> axum::Router {
    let issuer = Issuer::builder(ISSUER, [AUDIENCE])
        .jwks(url.clone(), refresh_every)
        .jwks_min_refresh_interval(min_refresh)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).realm("test").build().unwrap();
    test_app(&Security::new(authenticator), &Calls::default())
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn key_rotation_is_picked_up_without_restart() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let app = app(&server.url, HOUR, Duration::from_millis(500));

    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    assert_eq!(server.hits(), 1);

    // The issuer rotates: k2 replaces k1.
    server.publish(&[("k2", &ec2(), Algorithm::ES256)]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(send(&app, get_with_token("/me", &token("k2", &ec2()))).await.status, StatusCode::OK);
    assert_eq!(server.hits(), 2);
    // The retired key is gone with the refresh.
    assert_invalid_token(&send(&app, get_with_token("/me", &token("k1", &ec1()))).await, "");
    // A token claiming k2 but signed with the old key fails its signature.
    assert_invalid_token(&send(&app, get_with_token("/me", &token("k2", &ec1()))).await, "");
    server.stop().await;
}

#[tokio::test]
async fn a_cached_token_dies_with_its_key() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let app = app(&server.url, HOUR, Duration::from_millis(300));
    let cached = token("k1", &ec1());
    for _ in 0..3 {
        assert_eq!(send(&app, get_with_token("/me", &cached)).await.status, StatusCode::OK);
    }
    assert_eq!(server.hits(), 1);

    // k1 is retired; a request naming an unknown kid makes the service refresh its keys.
    server.publish(&[("k2", &ec2(), Algorithm::ES256)]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(send(&app, get_with_token("/me", &token("k2", &ec2()))).await.status, StatusCode::OK);
    assert_eq!(server.hits(), 2);
    // The very same bytes that were remembered are refused now.
    assert_invalid_token(&send(&app, get_with_token("/me", &cached)).await, "");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_causes_at_most_one_refresh_per_interval() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let app = app(&server.url, HOUR, Duration::from_secs(10));
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    assert_eq!(server.hits(), 1);

    let started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..300 {
        let app = app.clone();
        let forged = token(&format!("random-kid-{i}"), &ec1());
        flood.spawn(async move { send(&app, get_with_token("/me", &forged)).await.status });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "the flood outlasted the interval; the test proves nothing");
    // The last fetch was under 10 s ago, so the whole flood triggers no fetch at all.
    assert_eq!(server.hits(), 1, "refreshes during the flood");
    // The legitimate key still works throughout.
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_after_the_interval_triggers_exactly_one_refresh() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let app = app(&server.url, HOUR, Duration::from_millis(300));
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..100 {
        let app = app.clone();
        let forged = token(&format!("random-kid-{i}"), &ec1());
        flood.spawn(async move { send(&app, get_with_token("/me", &forged)).await.status });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let elapsed = started.elapsed();
    // One refresh per started interval of the flood, plus the first fetch.
    let allowed = 2 + (elapsed.as_millis() / 300) as usize;
    assert!(server.hits() >= 2 && server.hits() <= allowed, "{} fetches in {elapsed:?}", server.hits());
    server.stop().await;
}

#[tokio::test]
async fn the_jwks_server_going_down_keeps_the_cached_keys() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let url = server.url.clone();
    let app = app(&url, HOUR, Duration::from_millis(100));
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    server.stop().await;

    // An unknown kid makes the cache try the dead server; the failure keeps the cached keys.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    assert_invalid_token(&send(&app, get_with_token("/me", &token("k9", &ec1()))).await, "");
    assert!(started.elapsed() < Duration::from_secs(6), "a dead JWKS server must not hang requests");
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn keys_are_refreshed_periodically_without_traffic() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let app = app(&server.url, Duration::from_millis(300), Duration::from_millis(300));
    assert_eq!(send(&app, get_with_token("/me", &token("k1", &ec1()))).await.status, StatusCode::OK);
    // Rotate, then wait for the periodic refresh alone to pick it up (no unknown kid involved:
    // the new token's kid arrives only after the refresh should have happened).
    server.publish(&[("k2", &ec2(), Algorithm::ES256)]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(server.hits() >= 3, "periodic refreshes: {}", server.hits());
    // k1 was dropped by a periodic refresh, not by a kid miss.
    assert_invalid_token(&send(&app, get_with_token("/me", &token("k1", &ec1()))).await, "");
    drop(app);
    server.stop().await;
}

/// The security hub and the JWKS cache of an issuer on `url`.
fn hub(url: &reqwest::Url, min_refresh: Duration) -> (Security, Arc<rampart::auth::JwksCache>) {
    let issuer = Issuer::builder(ISSUER, [AUDIENCE]).jwks(url.clone(), HOUR).jwks_min_refresh_interval(min_refresh);
    let issuer = issuer.build().unwrap();
    let jwks = Arc::clone(issuer.jwks().unwrap());
    let authenticator = Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).realm("test").build().unwrap();
    (Security::new(authenticator), jwks)
}

/// A token naming a random `kid` makes the service fetch the keys again; the same keys come
/// back, and the verified-token cache survives (before, every such fetch retired it).
#[tokio::test]
async fn a_random_kid_does_not_retire_cached_tokens() {
    let server = JwksServer::start().await;
    server.publish(&[("k1", &ec1(), Algorithm::ES256)]);
    let (security, jwks) = hub(&server.url, Duration::from_millis(200));
    let app = test_app(&security, &Calls::default());
    let cached = token("k1", &ec1());
    // Remembered from its second verification on.
    for _ in 0..2 {
        assert_eq!(send(&app, get_with_token("/me", &cached)).await.status, StatusCode::OK);
    }
    let generation = jwks.generation();
    let verifier = security.authenticator().jwt().unwrap();
    assert_eq!(verifier.cached_tokens(), 1);
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let hits = server.hits();
        let random = token(&format!("random-{round}"), &ec1());
        assert_invalid_token(&send(&app, get_with_token("/me", &random)).await, "");
        assert_eq!(server.hits(), hits + 1, "the unknown kid made the service fetch");
        assert_eq!(jwks.generation(), generation, "the same keys: the generation did not move");
        assert_eq!(verifier.cached_tokens(), 1, "the cached token is still remembered");
        assert_eq!(send(&app, get_with_token("/me", &cached)).await.status, StatusCode::OK);
    }
    // A real rotation still moves it.
    server.publish(&[("k1", &ec1(), Algorithm::ES256), ("k2", &ec2(), Algorithm::ES256)]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(send(&app, get_with_token("/me", &token("k2", &ec2()))).await.status, StatusCode::OK);
    assert_ne!(jwks.generation(), generation);
    server.stop().await;
}

/// Keys are fetched at start-up: a token without `kid` verifies on the very first request.
#[tokio::test]
async fn a_token_without_kid_verifies_from_the_first_request() {
    let server = JwksServer::start().await;
    server.publish(&[("only", &ec1(), Algorithm::ES256)]);
    let (security, _jwks) = hub(&server.url, Duration::from_secs(10));
    let app = test_app(&security, &Calls::default());
    let without_kid = sign(&json!({"alg": "ES256"}), &claims("alice", "notes:read"), &ec1(), Algorithm::ES256);
    assert_eq!(send(&app, get_with_token("/me", &without_kid)).await.status, StatusCode::OK);
    assert_eq!(server.hits(), 1, "one fetch, at start-up");
    server.stop().await;
}
