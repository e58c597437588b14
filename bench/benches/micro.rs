//! Micro-benchmarks of the per-request pieces: token verification per algorithm (from scratch
//! and from the verification cache), policy evaluation, the in-memory rate-limit check, and
//! problem+json rendering.
//!
//! `cargo bench -p bench --bench micro`

use std::hint::black_box;
use std::sync::OnceLock;

use axum::response::IntoResponse as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart::auth::{Issuer, JwtVerifier, Principal, VerificationKey};
use rampart::authz::Policy;
use rampart::error::FieldError;
use rampart::rate::MemoryStore;
use rampart::{Error, RateKey, RateSpec};

fn main() {
    divan::main();
}

const SECRET: &[u8] = b"bench-secret-0123456789abcdef-0123456789";
const ISSUER: &str = "https://issuer.bench";
const AUDIENCE: &str = "api";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture key")
}

/// A verifier for `alg` (with or without the cache) and a token it accepts.
fn setup(alg: Algorithm, cache: bool) -> (JwtVerifier, String) {
    let (signing, verification) = match alg {
        Algorithm::HS256 => {
            (EncodingKey::from_secret(SECRET).expect("key"), VerificationKey::from_secret(alg, SECRET).expect("key"))
        }
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(&key_file("rsa.key.pem")).expect("key"),
            VerificationKey::from_pem(alg, &key_file("rsa.pub.pem")).expect("key"),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(&key_file("ec.key.pem")).expect("key"),
            VerificationKey::from_pem(alg, &key_file("ec.pub.pem")).expect("key"),
        ),
        _ => (
            EncodingKey::from_ed_pem(&key_file("ed.key.pem")).expect("key"),
            VerificationKey::from_pem(Algorithm::EdDSA, &key_file("ed.pub.pem")).expect("key"),
        ),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let claims = serde_json::json!({
        "sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, "iat": now,
        "scope": "notes:read notes:write", "jti": "0123456789abcdef",
    });
    let token = jsonwebtoken::encode(&Header::new(alg), &claims, &signing).expect("token");
    let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(verification).build().expect("issuer");
    let verifier = JwtVerifier::new(vec![issuer]).with_cache_capacity(if cache { 10_000 } else { 0 });
    (verifier, token)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

#[divan::bench(args = ["HS256", "RS256", "ES256", "EdDSA"])]
fn verify_from_scratch(bencher: divan::Bencher, alg: &str) {
    let (verifier, token) = setup(alg.parse().expect("algorithm"), false);
    bencher.bench_local(|| runtime().block_on(verifier.verify(black_box(&token))).expect("valid"));
}

#[divan::bench(args = ["HS256", "ES256"])]
fn verify_cached(bencher: divan::Bencher, alg: &str) {
    let (verifier, token) = setup(alg.parse().expect("algorithm"), true);
    // Remembered from its second verification on.
    for _ in 0..2 {
        runtime().block_on(verifier.verify(&token)).expect("valid");
    }
    bencher.bench_local(|| runtime().block_on(verifier.verify(black_box(&token))).expect("valid"));
}

fn principal() -> Principal {
    let (verifier, token) = setup(Algorithm::HS256, false);
    runtime().block_on(verifier.verify(&token)).expect("valid")
}

#[divan::bench]
fn policy_single_scope(bencher: divan::Bencher) {
    const P: Policy = Policy::Scope("notes:write");
    let user = principal();
    bencher.bench_local(|| black_box(P).allows(black_box(&user)));
}

#[divan::bench]
fn policy_any_role_or_scopes(bencher: divan::Bencher) {
    const P: Policy = Policy::Any(&[
        Policy::Role("admin"),
        Policy::All(&[Policy::Scope("notes:read"), Policy::Scope("notes:write")]),
    ]);
    let user = principal();
    bencher.bench_local(|| black_box(P).allows(black_box(&user)));
}

#[divan::bench]
fn rate_check_memory(bencher: divan::Bencher) {
    let store = MemoryStore::default();
    let spec = RateSpec { count: u32::MAX, period_secs: 1, burst: u32::MAX, key: RateKey::Subject };
    let keys: Vec<String> = (0..1000).map(|i| format!("jwt:{ISSUER}#user-{i}")).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % keys.len();
        black_box(store.check(("GET", "/notes"), &spec, &keys[i]))
    });
}

#[divan::bench]
fn problem_json_401(bencher: divan::Bencher) {
    let realm: std::sync::Arc<str> = std::sync::Arc::from("api");
    bencher.bench_local(|| {
        let reason = rampart::auth::AuthError::Token(rampart::auth::TokenError::BadSignature);
        Error::Unauthenticated(rampart::error::Unauthenticated::new(reason, std::sync::Arc::clone(&realm)))
            .into_response()
    });
}

#[divan::bench]
fn problem_json_422_three_fields(bencher: divan::Bencher) {
    bencher.bench_local(|| {
        Error::Validation(vec![
            FieldError::new("#/title", "length is lower than 1"),
            FieldError::new("#/tags/3", "does not match the pattern"),
            FieldError::new("#/body", "length is greater than 10000"),
        ])
        .into_response()
    });
}
