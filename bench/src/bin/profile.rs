//! Drives one variant in process (no sockets) for profiling: `profile VARIANT N` sends N
//! requests through the router with `tower::ServiceExt::oneshot`. Under
//! `valgrind --tool=callgrind` the instruction count per request is repeatable, so changes to
//! the hot path can be compared exactly:
//!
//! `valgrind --tool=callgrind target/release/profile secure-get 20000`
//!
//! Variants: plain-get, plain-layered (plain axum behind one pass-through router layer: what a
//! layer costs), public-get, secure-get, secure-get-deployed (the notes service's defaults: the
//! metrics recorder and audit sink installed, lockout on), hand-get, plain-post, secure-post, and
//! ES256 tokens with hand-get-es256 and secure-get-es256, and secure-get-dpop (HS256 tokens bound to
//! an ES256 key, each request with a fresh DPoP proof made before the measured loop: the proof's
//! check is what is counted). `bench/instructions.sh`
//! runs them all. Each with `-cold` appended (`secure-get-cold`, `hand-get-cold`) sends every
//! request with a token never seen before: every verification is a cache miss, as with more
//! live tokens than a cache holds.

use axum::body::Body;
use axum::http::Request;
use bench::variants::{Signing, body, handwritten, handwritten_with, plain, rampart_app, rampart_app_with};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(variant), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: profile VARIANT N");
        std::process::exit(2);
    };
    let cold = variant.ends_with("-cold");
    let signing = if variant.contains("es256") { Signing::Es256 } else { Signing::Hs256 };
    let (app, path, post) = match variant.trim_end_matches("-cold") {
        "plain-get" => (plain(), "/item", false),
        "plain-post" => (plain(), "/item", true),
        "plain-layered" => (plain().layer(tower::layer::util::Identity::new()), "/item", false),
        "hand-get" => (handwritten(), "/item", false),
        "hand-get-es256" => (handwritten_with(Signing::Es256), "/item", false),
        "secure-get-es256" => (rampart_app_with(&Signing::Es256.settings()), "/secure", false),
        "public-get" => (rampart_app(), "/public", false),
        "secure-get" => (rampart_app(), "/secure", false),
        "secure-get-deployed" => (deployed(), "/secure", false),
        "secure-post" => (rampart_app(), "/secure", true),
        "secure-get-dpop" => (rampart_app_with(&Signing::Hs256.settings()), "/secure", false),
        other => {
            eprintln!("unknown variant {other}");
            std::process::exit(2);
        }
    };
    // Hot: 16 subjects, reused. Cold: a new token (and subject) for every request.
    let subjects = if cold { WARM_UP + n } else { 16 };
    let key = signing.encoding_key();
    let dpop = variant.contains("dpop").then(|| Dpop::new(path, WARM_UP + n));
    let tokens: Vec<String> = (0..subjects)
        .map(|i| match &dpop {
            None => signing.token(&format!("user-{i}"), &["bench:read", "bench:write"], &key),
            Some(dpop) => dpop.bound_token(&format!("user-{i}"), &key),
        })
        .collect();
    let proofs = dpop.map(|dpop| dpop.proofs(&tokens)).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let load = Load { app, path, post, tokens, payload: body(), variant, proofs };
    // Every subject's first request (the token verified and cached, the rate buckets and any
    // lazily initialized clock created) happens before the measured loop.
    runtime.block_on(load.send(0..WARM_UP));
    measured(&runtime, &load, n);
}

/// Rampart with the notes service's defaults: the metrics recorder and the audit sink (to a
/// file) installed, lockout on.
fn deployed() -> axum::Router {
    let audit_log = std::env::temp_dir().join("rampart-profile-audit.log");
    let mut settings = bench::variants::Signing::Hs256.settings();
    settings.push(("RAMPART_AUDIT_LOG", audit_log.display().to_string()));
    let config = bench::variants::rampart_config(&settings);
    // Kept for the process's life: dropping the sink would stop its writer.
    std::mem::forget(rampart::audit::install(&config.audit).expect("the audit sink"));
    rampart::metrics::install().expect("the recorder");
    bench::variants::rampart_app_with(&settings)
}

/// DPoP: a client key (the ES256 fixture), tokens bound to it, one fresh proof per request.
struct Dpop {
    key: jsonwebtoken::EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
    url: String,
    count: usize,
}

impl Dpop {
    fn new(path: &str, count: usize) -> Self {
        let key = Signing::Es256.encoding_key();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::ES256).expect("a JWK");
        // The default public URL: the default listen address.
        Self { key, jwk, url: format!("http://127.0.0.1:3000{path}"), count }
    }

    fn bound_token(&self, sub: &str, hs256: &jsonwebtoken::EncodingKey) -> String {
        let jwk = serde_json::to_value(&self.jwk).expect("a JWK");
        let jkt = rampart::auth::dpop::thumbprint(&jwk).expect("a thumbprint");
        rampart::token::TokenRequest::new(sub, bench::variants::ISSUER, bench::variants::AUDIENCE)
            .scopes(["bench:read", "bench:write"])
            .claim("cnf", serde_json::json!({"jkt": jkt}))
            .ttl(std::time::Duration::from_secs(3600))
            .sign(jsonwebtoken::Algorithm::HS256, hs256)
            .expect("a token")
    }

    /// One proof per request `i`, for the token it sends.
    fn proofs(&self, tokens: &[String]) -> Vec<String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("a clock").as_secs();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone());
        (0..self.count)
            .map(|i| {
                let token = &tokens[i % tokens.len()];
                let claims = serde_json::json!({
                    "jti": format!("proof-{i}"), "htm": "GET", "htu": self.url, "iat": now,
                    "ath": rampart::auth::dpop::token_hash(token),
                });
                jsonwebtoken::encode(&header, &claims, &self.key).expect("a proof")
            })
            .collect()
    }
}

/// Requests sent before the measured loop: each of the 16 subjects twice.
const WARM_UP: usize = 32;

/// What the loop sends.
struct Load<'a> {
    app: axum::Router,
    path: &'static str,
    post: bool,
    tokens: Vec<String>,
    payload: String,
    variant: &'a str,
    /// DPoP proofs, one per request, when the variant sends bound tokens.
    proofs: Vec<String>,
}

impl Load<'_> {
    async fn send(&self, requests: std::ops::Range<usize>) {
        let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("address");
        for i in requests {
            let builder = if self.post { Request::post(self.path) } else { Request::get(self.path) };
            let token = &self.tokens[i % self.tokens.len()];
            let builder = match self.proofs.get(i) {
                Some(proof) => builder.header("authorization", format!("DPoP {token}")).header("dpop", proof.as_str()),
                None => builder.header("authorization", format!("Bearer {token}")),
            };
            let mut request = builder
                .header("content-type", "application/json")
                .body(if self.post { Body::from(self.payload.clone()) } else { Body::empty() })
                .expect("a request");
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let response = self.app.clone().oneshot(request).await.expect("infallible");
            assert!(response.status().is_success(), "{}: {}", self.variant, response.status());
            let _ = response.into_body().collect().await;
        }
    }
}

/// The measured loop: `bench/instructions.sh` has callgrind count only inside this function
/// (`--toggle-collect`), so start-up and warm-up are left out.
#[inline(never)]
fn measured(runtime: &tokio::runtime::Runtime, load: &Load<'_>, n: usize) {
    runtime.block_on(load.send(WARM_UP..WARM_UP + n));
}
