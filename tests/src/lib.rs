//! Helpers shared by the integration tests: test keys, token forging, a test app, requests.
//!
//! Tokens are forged here the way an attacker would: any header, any claims, any key.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers: a failure here is a failed test")]

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use rampart::Security;
use rampart::audit::RequestContext;
use rampart::auth::{Authenticator, Issuer, JwtVerifier, Principal, VerificationKey};
use rampart::authz::{Policy, check_owner};
use rampart::extract::{Authorized, PolicySpec};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The HS256 secret of the test issuer.
pub const SECRET: &[u8] = b"an-hs256-test-secret-of-at-least-32-bytes!";
/// The test issuer.
pub const ISSUER: &str = "https://issuer.test";
/// The test audience.
pub const AUDIENCE: &str = "api";

/// Reads a fixture key file.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The signature schemes the tests cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HMAC SHA-256.
    Hs256,
    /// RSA PKCS#1 v1.5 SHA-256.
    Rs256,
    /// ECDSA P-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Scheme {
    /// All of them.
    pub const ALL: [Scheme; 4] = [Scheme::Hs256, Scheme::Rs256, Scheme::Es256, Scheme::EdDsa];

    /// The JWS algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Scheme::Hs256 => Algorithm::HS256,
            Scheme::Rs256 => Algorithm::RS256,
            Scheme::Es256 => Algorithm::ES256,
            Scheme::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The `alg` header value.
    pub fn alg_name(self) -> &'static str {
        match self {
            Scheme::Hs256 => "HS256",
            Scheme::Rs256 => "RS256",
            Scheme::Es256 => "ES256",
            Scheme::EdDsa => "EdDSA",
        }
    }

    /// The key that signs legitimate tokens.
    pub fn signing_key(self) -> EncodingKey {
        match self {
            Scheme::Hs256 => EncodingKey::from_secret(SECRET).unwrap(),
            Scheme::Rs256 => EncodingKey::from_rsa_pem(&fixture("rsa.key.pem")).unwrap(),
            Scheme::Es256 => EncodingKey::from_ec_pem(&fixture("ec.key.pem")).unwrap(),
            Scheme::EdDsa => EncodingKey::from_ed_pem(&fixture("ed.key.pem")).unwrap(),
        }
    }

    /// The key the service verifies with.
    pub fn verification_key(self) -> VerificationKey {
        match self {
            Scheme::Hs256 => VerificationKey::from_secret(Algorithm::HS256, SECRET).unwrap(),
            Scheme::Rs256 => VerificationKey::from_pem(Algorithm::RS256, &fixture("rsa.pub.pem")).unwrap(),
            Scheme::Es256 => VerificationKey::from_pem(Algorithm::ES256, &fixture("ec.pub.pem")).unwrap(),
            Scheme::EdDsa => VerificationKey::from_pem(Algorithm::EdDSA, &fixture("ed.pub.pem")).unwrap(),
        }
        .with_kid(format!("{}-key", self.alg_name()))
    }

    /// The `kid` of [`Self::verification_key`].
    pub fn kid(self) -> String {
        format!("{}-key", self.alg_name())
    }

    /// A valid header for this scheme.
    pub fn header(self) -> Value {
        json!({"alg": self.alg_name(), "typ": "JWT", "kid": self.kid()})
    }

    /// A valid token with `claims`.
    pub fn token(self, claims: &Value) -> String {
        sign(&self.header(), claims, &self.signing_key(), self.algorithm())
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Valid claims for `sub` with `scope`, expiring in ten minutes.
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "iat": now(), "scope": scope})
}

/// base64url of a JSON value's compact text.
pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Signs `header.claims` (any header, as an attacker would) with `key` under `alg`.
pub fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    sign_raw(&b64(header), &b64(claims), key, alg)
}

/// Signs pre-encoded segments (to forge duplicate members or odd encodings).
pub fn sign_raw(header_b64: &str, claims_b64: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{header_b64}.{claims_b64}");
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// An authenticator trusting the test issuer with the keys of `schemes`.
pub fn authenticator(schemes: &[Scheme]) -> Authenticator {
    let mut issuer = Issuer::builder(ISSUER, [AUDIENCE]);
    for scheme in schemes {
        issuer = issuer.key(scheme.verification_key());
    }
    Authenticator::builder().jwt(JwtVerifier::new(vec![issuer.build().unwrap()])).realm("test").build().unwrap()
}

/// [`authenticator`] for HS256 tokens, refusing the ids on `revocations`.
pub fn authenticator_revoking(revocations: Arc<rampart::auth::MemoryRevocations>) -> Authenticator {
    let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).revocations(revocations).realm("test").build().unwrap()
}

/// Requires `notes:write`.
pub struct Write;
impl PolicySpec for Write {
    const POLICY: Policy = Policy::Scope("notes:write");
}

/// Requires role `admin`.
pub struct Admin;
impl PolicySpec for Admin {
    const POLICY: Policy = Policy::Role("admin");
}

/// Counts handler executions, to prove that denied requests never reach the handler.
#[derive(Clone, Default)]
pub struct Calls(pub Arc<AtomicUsize>);

impl Calls {
    /// How many times a handler body ran.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A JSON body with a typed field, for 422.
#[derive(serde::Deserialize, garde::Validate)]
pub struct Typed {
    /// A number.
    #[garde(range(max = 1000))]
    pub n: u32,
}

/// The app the tests attack:
/// - `GET /me`: any authenticated caller;
/// - `POST /write`: scope `notes:write`, JSON body, 1 KiB body limit;
/// - `GET /admin`: role `admin`;
/// - `GET /owned/{owner}`: owner only (others get 404);
/// - `POST /typed`: authenticated, JSON `{"n": u32}`;
/// - `GET /boom`: a 500.
pub fn test_app(security: &Security, calls: &Calls) -> Router {
    async fn me(State(calls): State<Calls>, principal: Principal) -> Json<Value> {
        calls.hit();
        Json(json!({"sub": principal.subject(), "scopes": principal.scopes(), "roles": principal.roles()}))
    }
    async fn write(State(calls): State<Calls>, _: Authorized<Write>, Json(body): Json<Value>) -> Json<Value> {
        calls.hit();
        Json(body)
    }
    async fn admin(State(calls): State<Calls>, _: Authorized<Admin>) -> &'static str {
        calls.hit();
        "admin"
    }
    async fn owned(
        State(calls): State<Calls>,
        ctx: RequestContext,
        principal: Principal,
        Path(owner): Path<String>,
    ) -> Result<&'static str, rampart::Error> {
        check_owner(&ctx, &principal, owner.as_str(), |p, owner| p.subject() == owner)?;
        calls.hit();
        Ok("yours")
    }
    async fn typed(
        State(calls): State<Calls>,
        _: Principal,
        rampart::extract::Json(body): rampart::extract::Json<Typed>,
    ) -> String {
        calls.hit();
        body.n.to_string()
    }
    async fn boom(_: Principal) -> Result<(), rampart::Error> {
        Err(rampart::Error::Internal("database on fire at 10.1.2.3".into()))
    }
    let routes = Router::new()
        .route("/me", get(me))
        .route("/write", post(write).layer(DefaultBodyLimit::max(1024)))
        .route("/admin", get(admin))
        .route("/owned/{owner}", get(owned))
        .route("/typed", post(typed))
        .route("/boom", get(boom))
        .with_state(calls.clone());
    security.apply(routes)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// Sends `request` to `app` in process.
pub async fn send(app: &(impl Into<Router> + Clone), request: Request<Body>) -> Reply {
    let response = app.clone().into().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

/// `GET path` with a bearer token.
pub fn get_with_token(path: &str, token: &str) -> Request<Body> {
    Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

/// Asserts the exact 401 shape: challenge, problem+json body, security headers, no token echo.
pub fn assert_invalid_token(reply: &Reply, token_fragment: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "body: {:?}", reply.body);
    let challenge = reply.header("www-authenticate");
    assert!(
        challenge == r#"Bearer realm="test", error="invalid_token", error_description="the access token is invalid""#
            || challenge
                == r#"Bearer realm="test", error="invalid_token", error_description="the access token expired""#,
        "challenge: {challenge}"
    );
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let body = reply.json();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert_eq!(body["type"], "about:blank");
    assert!(body["detail"].is_string());
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
    if !token_fragment.is_empty() {
        assert!(!String::from_utf8_lossy(&reply.body).contains(token_fragment), "the body echoes the token");
    }
    assert_security_headers(reply);
}

/// Asserts the secure response headers.
pub fn assert_security_headers(reply: &Reply) {
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(reply.header("x-frame-options"), "DENY");
    assert_eq!(reply.header("referrer-policy"), "no-referrer");
    assert_eq!(reply.header("content-security-policy"), "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    assert_eq!(reply.header("cache-control"), "no-store");
    assert!(reply.headers.get("server").is_none());
    assert!(reply.headers.get("x-powered-by").is_none());
    assert!(!reply.header("x-request-id").is_empty());
}

/// A `MakeWriter` that keeps everything written, to read the audit log back.
#[derive(Clone, Default)]
pub struct CapturedLog(pub Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The notes service's router, configured for the test issuer (HS256 with [`SECRET`]), plus
/// `extra` environment variables.
pub async fn notes_app(extra: &[(&str, &str)]) -> Router {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let mut vars: Vec<(&str, &str)> =
        vec![("RAMPART_JWT_SECRET", secret), ("RAMPART_JWT_ISSUER", ISSUER), ("RAMPART_JWT_AUDIENCE", AUDIENCE)];
    vars.extend_from_slice(extra);
    let config = rampart::config::Config::from_lookup(|name| {
        vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let store = notes::NoteStore::connect("sqlite::memory:").await.unwrap();
    notes::app(&config, store).unwrap().into_axum()
}
