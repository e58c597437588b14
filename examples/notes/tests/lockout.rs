//! Lockout of credential guessing, against real notes binaries over loopback, with clients on
//! distinct source addresses (127.0.0.2, 127.0.0.3, ...: all of 127.0.0.0/8 is loopback on Linux),
//! as users behind different NATs are. No proxy is trusted: the socket peer is the client.
//!
//! What is proven: guesses from one address lock it; valid tokens from that address (cached and
//! fresh) are still served; expired tokens are 401 and never lock; another address is unaffected;
//! `X-Forwarded-For` from an untrusted peer does not escape a lock; the same across two instances
//! sharing Redis; wrong client secrets at `/oauth/token` lock per IP and per client id without
//! refusing the right secret; a locked IP's asymmetric verifications are bounded by the budget.
//!
//! Needs Redis at 127.0.0.1:6379 for the two-instance test.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rampart::token::{Algorithm, EncodingKey, TokenRequest};
use reqwest::StatusCode;
use serde_json::json;
use support::Service;

const SECRET: &str = "lockout-test-secret-0123456789abcdef-0123";
const CLIENT_SECRET: &str = "lockout-client-secret-0123456789";

fn token(subject: &str, scope: &str) -> String {
    TokenRequest::new(subject, "rampart-dev", "notes").scopes(scope.split(' ')).sign_hs256(SECRET.as_bytes()).unwrap()
}

/// Validly signed, expired two minutes ago (beyond the 30 s leeway): ordinary refresh traffic.
fn expired(subject: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    TokenRequest::new(subject, "rampart-dev", "notes")
        .scopes(["notes:read"])
        .claim("iat", json!(now - 3_600))
        .claim("exp", json!(now - 120))
        .sign_hs256(SECRET.as_bytes())
        .unwrap()
}

/// A well-formed token with a wrong signature: a guess.
fn guessed(i: usize) -> String {
    let valid = token(&format!("guess-{i}"), "notes:read");
    let (head, _) = valid.rsplit_once('.').unwrap();
    format!("{head}.c2lnbmF0dXJlLWd1ZXNzLW51bWJlcg{i}")
}

/// A client whose connections come from `source`.
fn client_from(source: &str) -> reqwest::Client {
    let ip: IpAddr = source.parse().unwrap();
    reqwest::Client::builder().local_address(ip).build().unwrap()
}

struct Instance {
    service: Service,
}

impl Instance {
    fn start(extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("RAMPART_JWT_SECRET", SECRET),
            ("RAMPART_METRICS_ADDR", "127.0.0.1:0"),
            ("RAMPART_LOCKOUT_COOLDOWN_SECS", "3"),
        ];
        vars.extend_from_slice(extra);
        Self { service: Service::start(&vars) }
    }

    async fn get_notes(&self, from: &reqwest::Client, token: &str) -> reqwest::Response {
        let url = format!("http://{}/notes", self.service.addr);
        from.get(url).bearer_auth(token).send().await.unwrap()
    }

    async fn counter(&self, series: &str) -> f64 {
        let url = format!("http://{}/metrics", self.service.metrics_addr.as_ref().unwrap());
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
    }

    async fn verifications(&self) -> f64 {
        self.counter("rampart_token_verifications_total ").await
    }
}

async fn assert_locked(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["title"], "Too Many Requests");
}

async fn assert_invalid_token(response: reqwest::Response, description: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#), "{challenge}");
    assert!(response.headers().get("retry-after").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["detail"], description);
}

/// Locks `attacker`'s address with 20 guesses on `instance` (each 401, each verified).
async fn lock(instance: &Instance, attacker: &reqwest::Client) {
    for i in 0..20 {
        let response = instance.get_notes(attacker, &guessed(i)).await;
        assert_invalid_token(response, "the access token is invalid").await;
    }
}

#[tokio::test]
async fn guesses_lock_their_address_but_never_a_valid_or_expired_token() {
    let service = Instance::start(&[]);
    let attacker = client_from("127.0.0.2");
    let bystander = client_from("127.0.0.3");

    // A user behind the attacker's address, whose token is verified twice (and so cached) before.
    let neighbour = token("neighbour", "notes:read");
    for _ in 0..2 {
        assert_eq!(service.get_notes(&attacker, &neighbour).await.status(), StatusCode::OK);
    }

    lock(&service, &attacker).await;
    assert_eq!(
        service
            .counter(
                "rampart_security_decisions_total{route=\"/notes\",decision=\"lockout\",reason=\"authentication_failures\"} "
            )
            .await,
        1.0
    );
    // The next guess from that address is refused with 429, and a spoofed X-Forwarded-For from
    // the untrusted peer changes nothing.
    assert_locked(service.get_notes(&attacker, &guessed(20)).await).await;
    let url = format!("http://{}/notes", service.service.addr);
    let spoofed = attacker.get(url).header("x-forwarded-for", "127.0.0.9").bearer_auth(guessed(21));
    assert_locked(spoofed.send().await.unwrap()).await;

    // Valid tokens from the locked address are served: the cached one and a fresh one.
    assert_eq!(service.get_notes(&attacker, &neighbour).await.status(), StatusCode::OK);
    let verified = service.verifications().await;
    assert_eq!(service.get_notes(&attacker, &token("fresh-neighbour", "notes:read")).await.status(), StatusCode::OK);
    assert_eq!(service.verifications().await, verified + 1.0, "the fresh token was verified, not refused");
    // An expired token from the locked address is told to refresh (401), not to back off (429).
    assert_invalid_token(service.get_notes(&attacker, &expired("neighbour")).await, "the access token expired").await;

    // Another address is unaffected.
    assert_invalid_token(service.get_notes(&bystander, &guessed(0)).await, "the access token is invalid").await;
    assert_eq!(service.get_notes(&bystander, &token("bystander", "notes:read")).await.status(), StatusCode::OK);

    // The lock ends with its cool-down (it is not renewed by the guesses it refused).
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_invalid_token(service.get_notes(&attacker, &guessed(22)).await, "the access token is invalid").await;
}

#[tokio::test]
async fn expired_tokens_are_refresh_traffic_and_never_lock() {
    let service = Instance::start(&[]);
    let refresher = client_from("127.0.0.4");
    for i in 0..40 {
        let response = service.get_notes(&refresher, &expired(&format!("user-{i}"))).await;
        assert_invalid_token(response, "the access token expired").await;
    }
    // Not locked: a guess from there is a plain 401 (it would be 429 from a locked address).
    assert_invalid_token(service.get_notes(&refresher, &guessed(0)).await, "the access token is invalid").await;
    // Tokens for another audience are validly signed too: 401, not counted.
    let foreign = TokenRequest::new("user", "rampart-dev", "billing").sign_hs256(SECRET.as_bytes()).unwrap();
    for _ in 0..25 {
        assert_invalid_token(service.get_notes(&refresher, &foreign).await, "the access token is invalid").await;
    }
    assert_invalid_token(service.get_notes(&refresher, &guessed(1)).await, "the access token is invalid").await;
}

/// Two instances behind one Redis: a lock set through one refuses guesses on the other, which
/// still serves valid tokens from that address and answers expired ones with 401.
#[tokio::test]
async fn a_lock_is_shared_through_redis_and_spares_valid_tokens_there_too() {
    let prefix = format!("lockout-test-{}", std::process::id());
    let shared = [("RAMPART_RATE_LIMIT", "redis://127.0.0.1:6379"), ("RAMPART_RATE_LIMIT_PREFIX", prefix.as_str())];
    let a = Instance::start(&shared);
    let b = Instance::start(&shared);
    let attacker = client_from("127.0.0.5");
    let bystander = client_from("127.0.0.6");

    lock(&a, &attacker).await;
    assert_locked(a.get_notes(&attacker, &guessed(20)).await).await;
    assert_locked(b.get_notes(&attacker, &guessed(21)).await).await;
    assert_eq!(b.get_notes(&attacker, &token("behind-the-same-nat", "notes:read")).await.status(), StatusCode::OK);
    assert_eq!(a.get_notes(&attacker, &token("behind-the-same-nat", "notes:read")).await.status(), StatusCode::OK);
    assert_invalid_token(b.get_notes(&attacker, &expired("someone")).await, "the access token expired").await;
    assert_invalid_token(b.get_notes(&bystander, &guessed(0)).await, "the access token is invalid").await;
    for instance in [&a, &b] {
        assert!(instance.counter("rampart_rate_limit_redis_seconds_count{outcome=\"ok\"} ").await > 0.0);
    }
}

async fn token_request(service: &Instance, from: &reqwest::Client, id: &str, secret: &str) -> reqwest::Response {
    let url = format!("http://{}/oauth/token", service.service.addr);
    from.post(url)
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_client_secrets_lock_per_ip_and_per_client_but_the_right_secret_is_granted() {
    let clients = format!("app:{CLIENT_SECRET}:notes:read,other:{CLIENT_SECRET}-other:notes:read");
    // The token endpoint's own rate limit (20/min per IP) would answer before the lockout does.
    let service =
        Instance::start(&[("RAMPART_OAUTH_CLIENTS", clients.as_str()), ("RAMPART_LOCKOUT_AUTHN_FAILURES", "5")]);
    let attacker = client_from("127.0.0.7");
    let elsewhere = client_from("127.0.0.8");
    for i in 0..5 {
        let response = token_request(&service, &attacker, "app", &format!("wrong-secret-{i}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    }
    // Locked, by IP and by client id: a wrong secret gets 429 with Retry-After, from here or
    // from another address.
    for from in [&attacker, &elsewhere] {
        let response = token_request(&service, from, "app", "still-wrong").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3).contains(&retry), "Retry-After {retry}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "temporarily_unavailable");
    }
    // The locked IP guessing another client's secret is refused too (the IP is locked).
    assert_eq!(token_request(&service, &attacker, "other", "wrong").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // The right secret is granted, from the locked address and for the locked client id.
    let granted = token_request(&service, &attacker, "app", CLIENT_SECRET).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let access: serde_json::Value = granted.json().await.unwrap();
    let minted = access["access_token"].as_str().unwrap();
    assert_eq!(service.get_notes(&attacker, minted).await.status(), StatusCode::OK);
    // Another address guessing the other client is only counted.
    assert_eq!(token_request(&service, &elsewhere, "other", "wrong").await.status(), StatusCode::UNAUTHORIZED);
}

/// With asymmetric keys, a locked address may cause at most the budget's verifications of new
/// tokens (2/s, burst 4): beyond, 429 with `Retry-After: 1` before any signature check.
#[tokio::test]
async fn a_locked_address_gets_a_bounded_asymmetric_verification_budget() {
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys");
    let public = format!("{keys}/ec.pub.pem");
    let private = std::fs::read(format!("{keys}/ec.key.pem")).unwrap();
    let key = EncodingKey::from_ec_pem(&private).unwrap();
    let es256 = |subject: &str| {
        TokenRequest::new(subject, "rampart-dev", "notes").scopes(["notes:read"]).sign(Algorithm::ES256, &key).unwrap()
    };
    let service = Instance::start(&[
        ("RAMPART_JWT_SECRET", ""),
        ("RAMPART_JWT_PUBLIC_KEY", public.as_str()),
        ("RAMPART_JWT_ALGORITHM", "ES256"),
    ]);
    let attacker = client_from("127.0.0.9");
    let valid = es256("seen-before");
    // Verified twice, so remembered (the cache keeps a token from its second verification on).
    for _ in 0..2 {
        assert_eq!(service.get_notes(&attacker, &valid).await.status(), StatusCode::OK);
    }
    lock(&service, &attacker).await;

    // Requests that cost no signature check spend nothing of the budget: none, malformed
    // tokens, a bad Basic header.
    let url = format!("http://{}/notes", service.service.addr);
    for _ in 0..30 {
        assert_eq!(attacker.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_locked(attacker.get(&url).bearer_auth("not-a-jwt").send().await.unwrap()).await;
    }
    assert_eq!(service.get_notes(&attacker, &es256("after-garbage")).await.status(), StatusCode::OK);

    // One second of fresh tokens from the locked address, as fast as one connection goes.
    let before = service.verifications().await;
    let started = Instant::now();
    let (mut served, mut refused, mut sent) = (0, 0, 0);
    while started.elapsed() < Duration::from_secs(1) {
        let response = service.get_notes(&attacker, &es256(&format!("fresh-{sent}"))).await;
        sent += 1;
        match response.status() {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(response.headers()["retry-after"], "1");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let verified = service.verifications().await - before;
    assert!(sent > 20, "the loop sent {sent} requests");
    // What is left of the burst (3, one was spent above) and 2 per second.
    assert!((3.0..=7.0).contains(&verified), "{verified} verifications in one second from a locked address");
    assert_eq!(f64::from(served), verified, "every verified fresh token was served");
    assert_eq!(served + refused, sent);
    // The token verified before the lock is served from the cache, budget or not.
    assert_eq!(service.get_notes(&attacker, &valid).await.status(), StatusCode::OK);
    println!("budget: {sent} fresh ES256 tokens in 1 s from a locked address, {verified} verified, {refused} refused");
}

/// A resource server that introspects (at another notes process): a locked address's invented
/// opaque tokens cost at most the verification budget's round trips to the authorization server
/// (2/s, burst 4), answered 429 beyond; another address is served as before.
#[tokio::test]
async fn a_locked_address_gets_a_bounded_introspection_budget() {
    let resource_secret = "resource-server-secret-0123456789ab";
    let clients = format!("resource-server:{resource_secret}:");
    let issuer = Instance::start(&[("RAMPART_OAUTH_CLIENTS", clients.as_str())]);
    let endpoint = format!("http://{}/oauth/introspect", issuer.service.addr);
    let resource = Instance::start(&[
        ("RAMPART_JWT_SECRET", ""),
        ("RAMPART_INTROSPECTION_URL", endpoint.as_str()),
        ("RAMPART_INTROSPECTION_CLIENT_ID", "resource-server"),
        ("RAMPART_INTROSPECTION_CLIENT_SECRET", resource_secret),
    ]);
    let introspections =
        || issuer.counter("rampart_requests_total{route=\"/oauth/introspect\",method=\"POST\",status=\"200\"} ");
    let (attacker, bystander) = (client_from("127.0.0.11"), client_from("127.0.0.12"));

    // Twenty invented tokens: each introspected, each inactive, the twentieth locks the address.
    for i in 0..20 {
        let response = resource.get_notes(&attacker, &format!("invented-opaque-{i}")).await;
        assert_invalid_token(response, "the access token is invalid").await;
    }
    assert_locked(resource.get_notes(&attacker, "invented-opaque-20").await).await;

    // One second of fresh invented tokens from the locked address.
    let before = introspections().await;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(1) {
        assert_locked(resource.get_notes(&attacker, &format!("fresh-opaque-{sent}")).await).await;
        sent += 1;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = introspections().await - before;
    assert!(sent > 20, "the loop sent {sent} requests");
    assert!((1.0..=7.0).contains(&asked), "{asked} introspections in one second from a locked address");

    // Another address, with a token the authorization server issued: served.
    assert_eq!(resource.get_notes(&bystander, &token("bystander", "notes:read")).await.status(), StatusCode::OK);
    println!("introspection budget: {sent} invented tokens in 1 s from a locked address, {asked} introspected");
}

/// An authorization server on loopback that answers every introspection `inactive` after
/// `delay`, counting the requests it got.
async fn slow_authorization_server(delay: Duration) -> (std::sync::Arc<std::sync::atomic::AtomicUsize>, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&asked);
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move || {
            let counter = std::sync::Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                axum::Json(json!({"active": false}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (asked, url)
}

/// Invented opaque tokens whose requests are cancelled while their introspection is under way
/// (the client gives up after 100 ms, the authorization server answers after 500 ms) still count
/// against the address: after twenty, it is locked. Each was asked about once upstream.
#[tokio::test]
async fn cancelled_introspections_count_against_their_address() {
    let (asked, url) = slow_authorization_server(Duration::from_millis(500)).await;
    let resource = Instance::start(&[
        ("RAMPART_JWT_SECRET", ""),
        ("RAMPART_INTROSPECTION_URL", url.as_str()),
        ("RAMPART_INTROSPECTION_CLIENT_ID", "resource-server"),
        ("RAMPART_INTROSPECTION_CLIENT_SECRET", "resource-server-secret-0123456789ab"),
    ]);
    let impatient = reqwest::Client::builder()
        .local_address("127.0.0.13".parse::<IpAddr>().unwrap())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    for i in 0..20 {
        let url = format!("http://{}/notes", resource.service.addr);
        let sent = impatient.get(url).bearer_auth(format!("cancelled-opaque-{i}")).send().await;
        assert!(sent.is_err_and(|e| e.is_timeout()), "answered before the client gave up");
    }
    // Let the server notice the closed connections.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 20, "each token was sent upstream once");
    let attacker = client_from("127.0.0.13");
    assert_locked(resource.get_notes(&attacker, "one-more-invented-token").await).await;
    // Another address is not locked: its invented token is introspected and refused.
    let bystander = client_from("127.0.0.14");
    let refused =
        tokio::time::timeout(Duration::from_secs(5), resource.get_notes(&bystander, "bystander-invented")).await;
    assert_eq!(refused.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// An authorization server on loopback that fails (500) on tokens starting with `boom`, describes
/// tokens starting with `good-` as active for the notes service, and others as inactive; it
/// counts its requests.
async fn flaky_authorization_server() -> (std::sync::Arc<std::sync::atomic::AtomicUsize>, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&asked);
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move |body: String| {
            let counter = std::sync::Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let token = form_urlencoded::parse(body.as_bytes())
                    .find(|(name, _)| name == "token")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                if token.starts_with("boom") {
                    return axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "{}",
                    ));
                }
                let answer = match token.strip_prefix("good-") {
                    Some(subject) => json!({"active": true, "sub": subject, "scope": "notes:read", "aud": "notes",
                        "iss": "rampart-dev", "exp": now() + 600}),
                    None => json!({"active": false}),
                };
                axum::response::IntoResponse::into_response(axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (asked, url)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Against the notes binary: one token its authorization server fails on (500), sent again and
/// again from 127.0.0.15, gets 503 and does not stop other users' opaque tokens from being
/// introspected (127.0.0.16); failures for three distinct tokens within ten seconds do, for a
/// second.
#[tokio::test]
async fn one_failing_token_does_not_stop_other_tokens_introspection() {
    use std::sync::atomic::Ordering;
    let (asked, url) = flaky_authorization_server().await;
    let resource = Instance::start(&[
        ("RAMPART_JWT_SECRET", ""),
        ("RAMPART_INTROSPECTION_URL", url.as_str()),
        ("RAMPART_INTROSPECTION_CLIENT_ID", "resource-server"),
        ("RAMPART_INTROSPECTION_CLIENT_SECRET", "resource-server-secret-0123456789ab"),
    ]);
    let (failing, others) = (client_from("127.0.0.15"), client_from("127.0.0.16"));
    for _ in 0..10 {
        let response = resource.get_notes(&failing, "boom-1").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the failing token is not asked about again within the second");
    for user in ["ada", "brian", "chen"] {
        let response = resource.get_notes(&others, &format!("good-{user}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{user}");
    }
    // Two more distinct failing tokens: the endpoint is taken as down for a second.
    for token in ["boom-2", "boom-3"] {
        assert_eq!(resource.get_notes(&failing, token).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let before = asked.load(Ordering::SeqCst);
    assert_eq!(resource.get_notes(&others, "good-dana").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(asked.load(Ordering::SeqCst), before, "not asked while down");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(resource.get_notes(&others, "good-dana").await.status(), StatusCode::OK);
}
