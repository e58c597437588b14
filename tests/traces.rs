//! Request spans exported through OpenTelemetry (the SDK's in-memory exporter), over loopback
//! HTTP from several source addresses: one span per request named after its route, carrying the
//! security decision and never a token; a `traceparent` joins the caller's trace only when it
//! comes from a trusted proxy. Its own test binary: the subscriber is the process's global one.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rampart::auth::{Authenticator, Issuer, JwtVerifier, Principal};
use rampart::client_ip::TrustedProxies;
use rampart::{Router, Security, public, secure};
use rampart_tests::*;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

/// Reads a note.
#[secure(get, path = "/notes/{id}", scope = "notes:read", rate = "100/min")]
async fn read_note(Path(id): Path<u64>, user: Principal) -> String {
    format!("{id} for {}", user.subject())
}

/// Liveness.
#[public(get, path = "/health", reason = "probes")]
async fn health() -> &'static str {
    "ok"
}

const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

async fn serve() -> SocketAddr {
    serve_with(authenticator(&[Scheme::Hs256])).await
}

async fn serve_with(authenticator: Authenticator) -> SocketAddr {
    let proxies: TrustedProxies = "127.0.0.2/32".parse().unwrap();
    let security = Security::builder(authenticator).trusted_proxies(proxies).build();
    let app = Router::new().mount(read_note).mount(health).secured(&security);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    address
}

/// `GET path` from `source`, with `token` and a `traceparent` when given; the status.
async fn get(address: SocketAddr, source: [u8; 4], path: &str, token: Option<&str>, traceparent: Option<&str>) -> u16 {
    let client = reqwest::Client::builder().local_address(IpAddr::from(source)).build().unwrap();
    let mut request = client.get(format!("http://{address}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    request.send().await.unwrap().status().as_u16()
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_one_span_with_its_security_decision() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry().with(rampart::trace::otel::layer(&provider));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let address = serve().await;
    let reader = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let writer_only = Scheme::Hs256.token(&claims("bob", "notes:write"));
    let mut expired = claims("carol", "notes:read");
    expired["exp"] = json!(now() - 3600);
    let expired = Scheme::Hs256.token(&expired);
    let sampled = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");

    // In order: from the trusted proxy with the caller's trace; from an untrusted address with
    // the same header; a missing scope; an expired token; an upper-case (invalid) traceparent from
    // the proxy; a public route; no route at all.
    assert_eq!(get(address, [127, 0, 0, 2], "/notes/7", Some(&reader), Some(&sampled)).await, 200);
    assert_eq!(get(address, [127, 0, 0, 3], "/notes/8", Some(&reader), Some(&sampled)).await, 200);
    assert_eq!(get(address, [127, 0, 0, 4], "/notes/9", Some(&writer_only), None).await, 403);
    assert_eq!(get(address, [127, 0, 0, 5], "/notes/9", Some(&expired), None).await, 401);
    let shouting = format!("00-{}-{CALLER_SPAN}-01", CALLER_TRACE.to_uppercase());
    assert_eq!(get(address, [127, 0, 0, 2], "/notes/10", Some(&reader), Some(&shouting)).await, 200);
    assert_eq!(get(address, [127, 0, 0, 6], "/health", None, None).await, 200);
    assert_eq!(get(address, [127, 0, 0, 6], "/nowhere", None, None).await, 404);

    provider.force_flush().unwrap();
    let spans: Vec<SpanData> = exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.instrumentation_scope.name() == "rampart")
        .collect();
    assert_eq!(spans.len(), 7, "{spans:#?}");
    for span in &spans {
        assert_eq!(span.span_kind, SpanKind::Server);
        for kv in &span.attributes {
            let value = kv.value.to_string();
            for token in [&reader, &writer_only, &expired] {
                let signature = token.rsplit('.').next().unwrap();
                assert!(!value.contains(signature), "{} carries a token: {value}", kv.key);
            }
        }
    }
    // The spans end in the order the answers were sent.
    let by_client = |ip: &str, route: &str| {
        spans
            .iter()
            .filter(|s| attribute(s, "client.address").as_deref() == Some(ip) && s.name == route)
            .collect::<Vec<_>>()
    };

    let joined = by_client("127.0.0.2", "GET /notes/{id}");
    assert_eq!(joined.len(), 2);
    let (joined, refused_parent) = (joined[0], joined[1]);
    assert_eq!(joined.span_context.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(joined.parent_span_id, SpanId::from_hex(CALLER_SPAN).unwrap());
    assert!(joined.parent_span_is_remote);
    assert_eq!(attribute(joined, "http.route").as_deref(), Some("/notes/{id}"));
    assert_eq!(attribute(joined, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attribute(joined, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attribute(joined, "rampart.decision").as_deref(), Some("allow"));
    assert_eq!(attribute(joined, "enduser.id").as_deref(), Some(format!("jwt:{ISSUER}#alice").as_str()));
    assert!(attribute(joined, "request_id").is_some_and(|id| !id.is_empty()));
    // An invalid traceparent, even from the proxy, starts a trace of its own.
    assert_ne!(refused_parent.span_context.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(refused_parent.parent_span_id, SpanId::INVALID);

    // Not from a trusted proxy: the header is ignored.
    let untrusted = by_client("127.0.0.3", "GET /notes/{id}")[0];
    assert_ne!(untrusted.span_context.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(untrusted.parent_span_id, SpanId::INVALID);

    let forbidden = by_client("127.0.0.4", "GET /notes/{id}")[0];
    assert_eq!(attribute(forbidden, "rampart.decision").as_deref(), Some("deny"));
    assert_eq!(attribute(forbidden, "rampart.reason").as_deref(), Some("insufficient_scope"));
    assert_eq!(attribute(forbidden, "enduser.id").as_deref(), Some(format!("jwt:{ISSUER}#bob").as_str()));
    assert_eq!(attribute(forbidden, "http.response.status_code").as_deref(), Some("403"));
    assert_eq!(forbidden.status, Status::Unset);

    let expired = by_client("127.0.0.5", "GET /notes/{id}")[0];
    assert_eq!(attribute(expired, "rampart.decision").as_deref(), Some("deny"));
    assert_eq!(attribute(expired, "rampart.reason").as_deref(), Some("expired"));
    assert_eq!(attribute(expired, "enduser.id"), None);

    let public = by_client("127.0.0.6", "GET /health")[0];
    assert_eq!(attribute(public, "rampart.decision").as_deref(), Some("allow"));
    assert_eq!(attribute(public, "enduser.id"), None);
    let unrouted = by_client("127.0.0.6", "GET")[0];
    assert_eq!(attribute(unrouted, "http.response.status_code").as_deref(), Some("404"));
    assert_eq!(attribute(unrouted, "http.route"), None);

    // Onward: the JWKS fetch a request causes (a token signed with a key the cache does not
    // know yet) carries the request span's own traceparent, in the caller's trace.
    exporter.reset();
    let jwks = JwksServer::start().await;
    jwks.publish(&[("k1", &key("ec.key.pem"))]);
    let issuer = Issuer::builder(ISSUER, [AUDIENCE])
        .jwks(jwks.url.clone(), Duration::from_secs(3600))
        .jwks_min_refresh_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let address = serve_with(Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).build().unwrap()).await;
    // The fetch at start-up belongs to no request.
    while jwks.seen.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    jwks.publish(&[("k1", &key("ec.key.pem")), ("k2", &key("ec2.key.pem"))]);
    let rotated = sign(
        &json!({"alg": "ES256", "kid": "k2"}),
        &claims("dana", "notes:read"),
        &key("ec2.key.pem"),
        Algorithm::ES256,
    );
    assert_eq!(get(address, [127, 0, 0, 2], "/notes/11", Some(&rotated), Some(&sampled)).await, 200);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let request = spans.iter().find(|s| s.name == "GET /notes/{id}").unwrap();
    assert_eq!(request.span_context.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    let seen = jwks.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], None);
    assert_eq!(seen[1], Some(format!("00-{CALLER_TRACE}-{}-01", request.span_context.span_id())));
}

fn key(name: &str) -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture(name)).unwrap()
}

/// A JWKS endpoint on loopback that notes the `traceparent` of each fetch.
struct JwksServer {
    url: reqwest::Url,
    keys: Arc<Mutex<JwkSet>>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl JwksServer {
    async fn start() -> Self {
        let keys = Arc::new(Mutex::new(JwkSet { keys: Vec::new() }));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (served, noted) = (Arc::clone(&keys), Arc::clone(&seen));
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let header = headers.get("traceparent").map(|v| v.to_str().unwrap().to_owned());
                noted.lock().unwrap().push(header);
                let set = served.lock().unwrap().clone();
                async move { axum::Json(set) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, keys, seen }
    }

    fn publish(&self, keys: &[(&str, &EncodingKey)]) {
        let keys = keys
            .iter()
            .map(|(kid, key)| {
                let mut jwk = Jwk::from_encoding_key(key, Algorithm::ES256).unwrap();
                jwk.common.key_id = Some((*kid).to_owned());
                jwk
            })
            .collect();
        *self.keys.lock().unwrap() = JwkSet { keys };
    }
}
