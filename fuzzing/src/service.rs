//! One notes service per fuzzing process, built from the real configuration path, and a way to
//! send it a request in-process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// The HS256 secret the service trusts (raw bytes, as `RAMPART_JWT_SECRET` takes them).
pub(crate) const SECRET: &str = "fuzzing-secret-0123456789abcdef-0123456789";
pub(crate) const ISSUER: &str = "fuzz-issuer";
pub(crate) const AUDIENCE: &str = "fuzz";
/// The one OAuth2 client: `fuzz-client` with this secret may get `notes:read notes:write`.
pub(crate) const CLIENT_ID: &str = "fuzz-client";
pub(crate) const CLIENT_SECRET: &str = "fuzz-client-secret-0123456789";

/// A response, read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

struct Service {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let clients = format!("{CLIENT_ID}:{CLIENT_SECRET}:notes:read notes:write");
        let vars = [
            ("RAMPART_JWT_SECRET", SECRET),
            ("RAMPART_JWT_ISSUER", ISSUER),
            ("RAMPART_JWT_AUDIENCE", AUDIENCE),
            ("RAMPART_OAUTH_CLIENTS", clients.as_str()),
        ];
        let config = rampart::config::Config::from_lookup(|name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        })
        .expect("the fuzzing configuration is valid");
        let app = runtime.block_on(async {
            let store = notes::NoteStore::connect("sqlite::memory:").await.expect("an in-memory SQLite store");
            notes::app(&config, store).expect("the notes app").into_axum()
        });
        Service { runtime, app }
    })
}

/// A distinct client address per call (10.x.y.z), so per-IP limits do not hide deeper code.
fn next_peer() -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff))), 40_000)
}

/// A fresh subject per call, for the same reason.
pub(crate) fn next_subject() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("fuzz-user-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Sends `request` to the notes service as a new client would, and reads the whole answer.
pub(crate) fn send(mut request: Request<Body>) -> Reply {
    let service = service();
    request.extensions_mut().insert(ConnectInfo(next_peer()));
    service.runtime.block_on(async {
        let response = service.app.clone().oneshot(request).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a response body never fails").to_bytes().to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    })
}
