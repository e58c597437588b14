//! Rate limits against the real Redis at 127.0.0.1:6379 (shared quota, key expiry), a second
//! Redis started and killed by the test (failure modes), and proxy-header spoofing.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use rampart::auth::Principal;
use rampart::client_ip::TrustedProxies;
use rampart::config::FailureMode;
use rampart::rate::{MemoryStore, RateLimiter, RedisStore};
use rampart::{Router, Security, public, secure};
use rampart_tests::*;

const MAIN_REDIS: &str = "redis://127.0.0.1:6379";

/// Ten per minute per subject.
#[secure(get, path = "/limited", scope = "notes:read", rate = "10/min")]
async fn limited(user: Principal) -> String {
    user.subject().to_owned()
}

/// One per second per subject (for expiry).
#[secure(get, path = "/fast", scope = "notes:read", rate = "1/s")]
async fn fast(user: Principal) -> String {
    user.subject().to_owned()
}

/// Ten per minute per client IP.
#[public(get, path = "/open", reason = "test endpoint limited per client IP", rate = "10/min")]
async fn open() -> &'static str {
    "ok"
}

fn unique_prefix(name: &str) -> String {
    format!("rampart-test:{name}:{}:{}", std::process::id(), now())
}

fn app(limiter: RateLimiter, proxies: TrustedProxies) -> axum::Router {
    let security =
        Security::builder(authenticator(&[Scheme::Hs256])).rate_limiter(limiter).trusted_proxies(proxies).build();
    Router::new().mount(limited).mount(fast).mount(open).secured(&security).into_axum()
}

fn redis_app(url: &str, prefix: &str, mode: FailureMode) -> axum::Router {
    let store = RedisStore::connect(url, Duration::from_millis(100)).unwrap().with_prefix(prefix);
    app(RateLimiter::redis(store, mode, MemoryStore::default()), TrustedProxies::none())
}

fn reader(sub: &str) -> String {
    Scheme::Hs256.token(&claims(sub, "notes:read"))
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn the_eleventh_request_is_429_and_two_instances_share_the_quota() {
    let prefix = unique_prefix("shared");
    let (first, second) =
        (redis_app(MAIN_REDIS, &prefix, FailureMode::Closed), redis_app(MAIN_REDIS, &prefix, FailureMode::Closed));
    let token = reader("alice");
    for i in 0..10 {
        let instance = if i % 2 == 0 { &first } else { &second };
        let reply = send(instance, get_with_token("/limited", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
        assert_eq!(reply.header("ratelimit-policy"), r#""default";q=10;w=60"#);
        assert!(
            reply.header("ratelimit").starts_with(&format!("\"default\";r={};", 9 - i)),
            "{}",
            reply.header("ratelimit")
        );
    }
    for instance in [&first, &second] {
        let reply = send(instance, get_with_token("/limited", &token)).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = reply.header("retry-after").parse().unwrap();
        assert!((1..=6).contains(&retry_after), "Retry-After {retry_after}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.json()["status"], 429);
    }
    // Someone else is not affected.
    assert_eq!(send(&second, get_with_token("/limited", &reader("bob"))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn redis_keys_expire_once_the_quota_is_whole_again() {
    let prefix = unique_prefix("expiry");
    let app = redis_app(MAIN_REDIS, &prefix, FailureMode::Closed);
    assert_eq!(send(&app, get_with_token("/fast", &reader("carol"))).await.status, StatusCode::OK);
    let mut redis = redis_connection(MAIN_REDIS).await;
    let key = format!("{prefix}:rl:GET /fast:sub:jwt:{ISSUER}#carol");
    let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut redis).await.unwrap();
    assert!((1..=1000).contains(&ttl_ms), "PTTL {ttl_ms}");
    assert_eq!(send(&app, get_with_token("/fast", &reader("carol"))).await.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut redis).await.unwrap();
    assert!(!exists, "the key outlived its quota");
    assert_eq!(send(&app, get_with_token("/fast", &reader("carol"))).await.status, StatusCode::OK);
}

/// A `redis-server` of the test's own on a free port, killed and restarted at will.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { port, child: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed on this machine kind) must be on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_mode_holds_when_redis_dies_and_redis_is_used_again_when_it_returns() {
    let mut redis = OwnRedis::start();
    let prefix = unique_prefix("fault");
    let local = redis_app(&redis.url(), &prefix, FailureMode::Local);
    let open_mode = redis_app(&redis.url(), &prefix, FailureMode::Open);
    let closed = redis_app(&redis.url(), &prefix, FailureMode::Closed);
    let token = reader("dave");
    let timed = |app: axum::Router, token: String| async move {
        let started = Instant::now();
        let reply = send(&app, get_with_token("/limited", &token)).await;
        let elapsed = started.elapsed();
        // The Redis round trip is bounded by 100 ms; the rest is slack for a loaded 2-core machine.
        assert!(elapsed < Duration::from_millis(400), "a request took {elapsed:?} on a dead Redis");
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        reply
    };

    // Up: all three count in Redis.
    for app in [&local, &open_mode, &closed] {
        let reply = timed(app.clone(), token.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert!(timed(closed.clone(), token.clone()).await.header("ratelimit").starts_with("\"default\";r=6;"));

    redis.kill();
    // local: this instance's own limiter takes over (a fresh quota of 10, then 429).
    for i in 0..10 {
        let reply = timed(local.clone(), token.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "local fallback request {i}");
    }
    assert_eq!(timed(local.clone(), token.clone()).await.status, StatusCode::TOO_MANY_REQUESTS);
    // open: allowed, without quota headers (nothing was counted).
    for _ in 0..15 {
        let reply = timed(open_mode.clone(), token.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("ratelimit"), "");
    }
    // closed: 503 problem+json.
    for _ in 0..3 {
        let reply = timed(closed.clone(), token.clone()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.json()["status"], 503);
    }

    // Back: after the retry pause, decisions come from (the new, empty) Redis again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = timed(closed.clone(), token.clone()).await;
        if reply.status == StatusCode::OK {
            assert!(reply.header("ratelimit").starts_with("\"default\";r=9;"), "{}", reply.header("ratelimit"));
            break;
        }
        assert!(Instant::now() < deadline, "Redis was not used again after it came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut connection = redis_connection(&redis.url()).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{prefix}:rl:GET /limited:sub:jwt:{ISSUER}#dave"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(exists);
}

fn from_peer(peer: &str, forwarded_for: &str) -> Request<Body> {
    let mut request = Request::get("/open").header("x-forwarded-for", forwarded_for).body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    request
}

#[tokio::test]
async fn spoofed_forwarding_headers_from_an_untrusted_peer_change_nothing() {
    let app = app(RateLimiter::default(), TrustedProxies::none());
    let mut statuses = Vec::new();
    for i in 0..50 {
        statuses.push(send(&app, from_peer("203.0.113.5:40000", &format!("198.51.100.{i}"))).await.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10, "one bucket for the one real peer");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 40);
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_count_per_client() {
    let app = app(RateLimiter::default(), "10.0.0.0/8".parse().unwrap());
    for i in 0..50 {
        let reply = send(&app, from_peer("10.0.0.1:40000", &format!("198.51.100.{i}, 10.0.0.7"))).await;
        assert_eq!(reply.status, StatusCode::OK, "client {i}");
    }
    // The same client through the proxy is limited after its own 10.
    let statuses: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..11 {
            v.push(send(&app, from_peer("10.0.0.1:40000", "192.0.2.77")).await.status);
        }
        v
    };
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10);
}

#[tokio::test]
async fn the_memory_store_refuses_new_keys_at_its_ceiling() {
    let app = app(RateLimiter::memory(MemoryStore::with_max_keys(3)), TrustedProxies::none());
    for sub in ["a", "b", "c"] {
        assert_eq!(send(&app, get_with_token("/limited", &reader(sub))).await.status, StatusCode::OK);
    }
    let reply = send(&app, get_with_token("/limited", &reader("d"))).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), "1");
    // Known keys keep working.
    assert_eq!(send(&app, get_with_token("/limited", &reader("a"))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revocations_in_redis_are_shared() {
    use rampart::auth::{Authenticator, Issuer, JwtVerifier, Revocations};
    use std::sync::Arc;
    let prefix = unique_prefix("revoked");
    let store = RedisStore::connect(MAIN_REDIS, Duration::from_millis(200)).unwrap().with_prefix(&prefix);
    let make = || {
        let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
        let authenticator = Authenticator::builder()
            .jwt(JwtVerifier::new(vec![issuer]))
            .revocations(Arc::new(store.revocations()))
            .realm("test")
            .build()
            .unwrap();
        Router::new().mount(limited).secured(&Security::new(authenticator))
    };
    let (first, second) = (make(), make());
    let mut c = claims("erin", "notes:read");
    c["jti"] = serde_json::json!(format!("{prefix}-jti"));
    let token = Scheme::Hs256.token(&c);
    assert_eq!(send(&second, get_with_token("/limited", &token)).await.status, StatusCode::OK);
    store
        .revocations()
        .revoke(&rampart::auth::revocation_key(rampart_tests::ISSUER, &format!("{prefix}-jti")), now() + 60)
        .await
        .unwrap();
    assert_invalid_token(&send(&first, get_with_token("/limited", &token)).await, "");
    assert_invalid_token(&send(&second, get_with_token("/limited", &token)).await, "");
}

#[tokio::test]
async fn the_configuration_selects_redis() {
    use rampart::config::Config;
    let vars = [
        ("RAMPART_JWT_SECRET", "an-hs256-test-secret-of-at-least-32-bytes!"),
        ("RAMPART_JWT_ISSUER", ISSUER),
        ("RAMPART_JWT_AUDIENCE", AUDIENCE),
        ("RAMPART_RATE_LIMIT", MAIN_REDIS),
        ("RAMPART_RATE_LIMIT_FAILURE", "closed"),
    ];
    let config =
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap();
    let app = Router::new().mount(limited).secured(&Security::from_config(&config).unwrap());
    let subject = unique_prefix("configured").replace(':', "-");
    for _ in 0..10 {
        assert_eq!(send(&app, get_with_token("/limited", &reader(&subject))).await.status, StatusCode::OK);
    }
    assert_eq!(send(&app, get_with_token("/limited", &reader(&subject))).await.status, StatusCode::TOO_MANY_REQUESTS);
    let mut redis = redis_connection(MAIN_REDIS).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("rampart:rl:GET /limited:sub:jwt:{ISSUER}#{subject}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(exists, "the quota was not kept in Redis");
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64_prefix() {
    let app = app(RateLimiter::default(), TrustedProxies::none());
    let mut statuses = Vec::new();
    for i in 1..=11 {
        // Eleven addresses of one /64: one bucket of ten.
        statuses.push(send(&app, from_peer(&format!("[2001:db8:1:2::{i:x}]:4000"), "")).await.status);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // Another /64 is another client.
    assert_eq!(send(&app, from_peer("[2001:db8:1:3::1]:4000", "")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_revocation_store_is_503_not_an_invalid_token() {
    use rampart::auth::{Authenticator, Issuer, JwtVerifier};
    use std::sync::Arc;
    let dead = RedisStore::connect("redis://127.0.0.1:1", Duration::from_millis(100)).unwrap();
    let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let authenticator = Authenticator::builder()
        .jwt(JwtVerifier::new(vec![issuer]))
        .revocations(Arc::new(dead.revocations()))
        .realm("test")
        .build()
        .unwrap();
    let app = Router::new().mount(limited).secured(&Security::new(authenticator));
    let mut c = claims("frank", "notes:read");
    c["jti"] = serde_json::json!("some-token-id");
    let reply = send(&app, get_with_token("/limited", &Scheme::Hs256.token(&c))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert!(reply.headers.get("www-authenticate").is_none());
}
