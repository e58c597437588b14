//! Request spans exported through OpenTelemetry (the SDK's in-memory exporter), over loopback
//! HTTP from several source addresses: one span per request named after its route, carrying the
//! security decision and never a token; a `traceparent` joins the caller's trace only when it
//! comes from a trusted proxy. Its own test binary: the subscriber is the process's global one.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::net::{IpAddr, SocketAddr};

use axum::extract::Path;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rampart::auth::Principal;
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
    let proxies: TrustedProxies = "127.0.0.2/32".parse().unwrap();
    let security = Security::builder(authenticator(&[Scheme::Hs256])).trusted_proxies(proxies).build();
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
}
