//! DPoP proofs (RFC 9449) from the attacker's side: each check of §4.3 refuses the proof that
//! breaks it, with the reason an audit event and the `invalid_dpop_proof` challenge carry.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use rampart::auth::dpop::{DpopError, DpopVerifier, ProofRequest, thumbprint, token_hash};
use rampart_tests::*;
use serde_json::{Value, json};

const URI: &str = "https://api.example/notes/7";
/// The local Redis.
const REDIS: &str = "redis://127.0.0.1:6379";

pub(super) struct Key {
    signing: EncodingKey,
    algorithm: Algorithm,
    pub(super) jwk: Value,
}

fn key(file: &str, algorithm: Algorithm) -> Key {
    let signing = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&fixture(file)).unwrap(),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&fixture(file)).unwrap(),
        _ => EncodingKey::from_ec_pem(&fixture(file)).unwrap(),
    };
    let jwk = serde_json::to_value(Jwk::from_encoding_key(&signing, algorithm).unwrap()).unwrap();
    Key { signing, algorithm, jwk }
}

fn claims(method: &str, uri: &str, iat: u64) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = format!("proof-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    json!({"jti": jti, "htm": method, "htu": uri, "iat": iat})
}

fn proof(key: &Key, claims: &Value) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": format!("{:?}", key.algorithm), "jwk": key.jwk});
    sign(&header, claims, &key.signing, key.algorithm)
}

fn get() -> ProofRequest<'static> {
    ProofRequest::new("GET", URI)
}

#[test]
fn a_proof_with_each_accepted_key_type_verifies_to_its_thumbprint() {
    let verifier = DpopVerifier::new();
    for (file, algorithm) in
        [("ec.key.pem", Algorithm::ES256), ("ed.key.pem", Algorithm::EdDSA), ("rsa.key.pem", Algorithm::RS256)]
    {
        let key = key(file, algorithm);
        let verified = verifier.verify(&proof(&key, &claims("GET", URI, now())), &get(), None).unwrap();
        assert_eq!(verified.jkt, thumbprint(&key.jwk).unwrap(), "{algorithm:?}");
    }
}

#[test]
fn each_broken_check_refuses_the_proof() {
    let verifier = DpopVerifier::new();
    let ec = key("ec.key.pem", Algorithm::ES256);
    let other = key("ec2.key.pem", Algorithm::ES256);
    let refused = |proof: &str, request: &ProofRequest<'_>, token: Option<&str>| {
        verifier.verify(proof, request, token).unwrap_err()
    };

    // Replayed: the same proof twice.
    let once = proof(&ec, &claims("GET", URI, now()));
    assert!(verifier.verify(&once, &get(), None).is_ok());
    assert_eq!(refused(&once, &get(), None), DpopError::Replayed);
    // Another method, another URI (scheme, host, port, path).
    assert_eq!(refused(&proof(&ec, &claims("POST", URI, now())), &get(), None), DpopError::Method);
    for uri in [
        "http://api.example/notes/7",
        "https://evil.example/notes/7",
        "https://api.example:8443/notes/7",
        "https://api.example/notes/8",
    ] {
        assert_eq!(refused(&proof(&ec, &claims("GET", uri, now())), &get(), None), DpopError::Uri, "{uri}");
    }
    // The same URI written otherwise is the same URI (RFC 3986 normalization).
    assert!(
        verifier.verify(&proof(&ec, &claims("GET", "https://API.example:443/notes/./7", now())), &get(), None).is_ok()
    );
    // Too old, from the future.
    assert_eq!(refused(&proof(&ec, &claims("GET", URI, now() - 3600)), &get(), None), DpopError::IssuedAt);
    assert_eq!(refused(&proof(&ec, &claims("GET", URI, now() + 3600)), &get(), None), DpopError::IssuedAt);
    // With an access token: `ath` must be its hash.
    let mut for_token = claims("GET", URI, now());
    for_token["ath"] = json!(token_hash("the-token"));
    assert_eq!(refused(&proof(&ec, &for_token), &get(), Some("another-token")), DpopError::AccessTokenHash);
    assert_eq!(refused(&proof(&ec, &claims("GET", URI, now())), &get(), Some("the-token")), DpopError::AccessTokenHash);
    assert!(verifier.verify(&proof(&ec, &for_token), &get(), Some("the-token")).is_ok());
    // Signed by another key than the one in its header.
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec.jwk});
    let forged = sign(&header, &claims("GET", URI, now()), &other.signing, Algorithm::ES256);
    assert_eq!(refused(&forged, &get(), None), DpopError::Signature);
    // A private key in the header.
    let mut private = ec.jwk.clone();
    private["d"] = json!("c2VjcmV0LXNjYWxhcg");
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private});
    assert_eq!(
        refused(&sign(&header, &claims("GET", URI, now()), &ec.signing, Algorithm::ES256), &get(), None),
        DpopError::Key
    );
    // `alg: none`, and an HMAC proof with a symmetric key.
    let none = format!(
        "{}.{}.",
        b64(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": ec.jwk})),
        b64(&claims("GET", URI, now()))
    );
    assert_eq!(refused(&none, &get(), None), DpopError::Malformed, "an empty signature is not a JWS");
    let none = format!("{none}c2ln");
    assert_eq!(refused(&none, &get(), None), DpopError::Algorithm);
    let hmac = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
    let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}});
    assert_eq!(
        refused(&sign(&header, &claims("GET", URI, now()), &hmac, Algorithm::HS256), &get(), None),
        DpopError::Algorithm
    );
    // Not a DPoP proof (an access token's typ), a header that names its key elsewhere, a member twice.
    let header = json!({"typ": "JWT", "alg": "ES256", "jwk": ec.jwk});
    assert_eq!(
        refused(&sign(&header, &claims("GET", URI, now()), &ec.signing, Algorithm::ES256), &get(), None),
        DpopError::WrongType
    );
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec.jwk, "jku": "https://evil.example/keys"});
    assert_eq!(
        refused(&sign(&header, &claims("GET", URI, now()), &ec.signing, Algorithm::ES256), &get(), None),
        DpopError::Header
    );
    let twice = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{}}}"#, ec.jwk);
    let raw = sign_raw(&base64_url(twice.as_bytes()), &b64(&claims("GET", URI, now())), &ec.signing, Algorithm::ES256);
    assert_eq!(refused(&raw, &get(), None), DpopError::Header);
    // A claim missing, and an oversized proof.
    let mut no_jti = claims("GET", URI, now());
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_eq!(refused(&proof(&ec, &no_jti), &get(), None), DpopError::Claims);
    assert_eq!(refused(&"a".repeat(9000), &get(), None), DpopError::TooLarge);
    // The challenge names the accepted algorithms.
    assert_eq!(verifier.algs(), "ES256 ES384 EdDSA RS256 PS256");
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A `GET /notes` of the notes service with `authorization` and, when given, a `DPoP` proof.
fn list_notes(authorization: &str, proof: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::get("/notes").header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.body(axum::body::Body::empty()).unwrap()
}

/// A proof of `key` for `GET {uri}` with `token`'s hash.
pub(super) fn proof_for(key: &Key, uri: &str, token: &str) -> String {
    let mut claims = claims("GET", uri, now());
    claims["ath"] = json!(token_hash(token));
    proof(key, &claims)
}

fn assert_dpop_challenge(reply: &Reply, error: &str, description: &str) {
    assert_eq!(reply.status, axum::http::StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        format!(
            r#"DPoP realm="api", error="{error}", error_description="{description}", algs="ES256 ES384 EdDSA RS256 PS256""#
        )
    );
    assert_eq!(reply.header("content-type"), "application/problem+json");
}

#[tokio::test]
async fn a_bound_token_is_accepted_only_with_a_fresh_proof_of_its_key() {
    const NOTES: &str = "https://notes.example/notes";
    let app = notes_app(&[("RAMPART_PUBLIC_URL", "https://notes.example/")]).await;
    let ec = key("ec.key.pem", Algorithm::ES256);
    let mut bound = rampart_tests::claims("alice", "notes:read notes:write");
    bound["cnf"] = json!({"jkt": thumbprint(&ec.jwk).unwrap()});
    let token = Scheme::Hs256.token(&bound);
    let dpop = format!("DPoP {token}");

    let first = proof_for(&ec, NOTES, &token);
    assert_eq!(send(&app, list_notes(&dpop, Some(&first))).await.status, axum::http::StatusCode::OK);
    let invalid = "the DPoP proof is invalid";
    // The same proof again, a proof for another URL, by another key, none, two.
    assert_dpop_challenge(&send(&app, list_notes(&dpop, Some(&first))).await, "invalid_dpop_proof", invalid);
    let elsewhere = proof_for(&ec, "https://notes.example/notes/1", &token);
    assert_dpop_challenge(&send(&app, list_notes(&dpop, Some(&elsewhere))).await, "invalid_dpop_proof", invalid);
    let thief = key("ec2.key.pem", Algorithm::ES256);
    let stolen = proof_for(&thief, NOTES, &token);
    assert_dpop_challenge(&send(&app, list_notes(&dpop, Some(&stolen))).await, "invalid_dpop_proof", invalid);
    assert_dpop_challenge(&send(&app, list_notes(&dpop, None)).await, "invalid_dpop_proof", invalid);
    let two = axum::http::Request::get("/notes")
        .header("authorization", &dpop)
        .header("dpop", proof_for(&ec, NOTES, &token))
        .header("dpop", proof_for(&ec, NOTES, &token))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_dpop_challenge(&send(&app, two).await, "invalid_dpop_proof", invalid);

    // The bound token as a plain bearer token (it is in the verification cache by now: the fast
    // path must refuse it too), with or without a proof.
    let as_bearer = format!("Bearer {token}");
    let told = "send this token with Authorization: DPoP and a DPoP proof";
    assert_dpop_challenge(&send(&app, list_notes(&as_bearer, None)).await, "invalid_token", told);
    let fresh = proof_for(&ec, NOTES, &token);
    assert_dpop_challenge(&send(&app, list_notes(&as_bearer, Some(&fresh))).await, "invalid_token", told);

    // A token bound to no key, sent as DPoP with a valid proof: the key is not the token's.
    let unbound = Scheme::Hs256.token(&rampart_tests::claims("bob", "notes:read"));
    let reply = send(&app, list_notes(&format!("DPoP {unbound}"), Some(&proof_for(&ec, NOTES, &unbound)))).await;
    assert_dpop_challenge(&reply, "invalid_dpop_proof", invalid);
    // A fresh proof still works: nothing above used up the key.
    let again = proof_for(&ec, NOTES, &token);
    assert_eq!(send(&app, list_notes(&dpop, Some(&again))).await.status, axum::http::StatusCode::OK);
}

#[tokio::test]
async fn the_service_decides_whether_dpop_is_off_allowed_or_required() {
    let ec = key("ec.key.pem", Algorithm::ES256);
    let mut bound = rampart_tests::claims("alice", "notes:read");
    bound["cnf"] = json!({"jkt": thumbprint(&ec.jwk).unwrap()});
    let token = Scheme::Hs256.token(&bound);
    let plain = Scheme::Hs256.token(&rampart_tests::claims("bob", "notes:read"));

    // Off: the DPoP scheme is not one the service speaks.
    let off = notes_app(&[("RAMPART_DPOP", "off"), ("RAMPART_PUBLIC_URL", "https://notes.example")]).await;
    let proof = proof_for(&ec, "https://notes.example/notes", &token);
    let reply = send(&off, list_notes(&format!("DPoP {token}"), Some(&proof))).await;
    assert_eq!(reply.status, axum::http::StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("www-authenticate"), r#"Bearer realm="api""#);

    // Required: a plain bearer token is refused with the DPoP challenge; a bound one with its
    // proof passes.
    let required = notes_app(&[("RAMPART_DPOP", "required"), ("RAMPART_PUBLIC_URL", "https://notes.example")]).await;
    let reply = send(&required, list_notes(&format!("Bearer {plain}"), None)).await;
    assert_dpop_challenge(&reply, "invalid_token", "send this token with Authorization: DPoP and a DPoP proof");
    let proof = proof_for(&ec, "https://notes.example/notes", &token);
    assert_eq!(
        send(&required, list_notes(&format!("DPoP {token}"), Some(&proof))).await.status,
        axum::http::StatusCode::OK
    );
}

#[tokio::test]
async fn a_refused_dpop_token_is_challenged_in_the_dpop_scheme() {
    let app = notes_app(&[("RAMPART_PUBLIC_URL", "https://notes.example")]).await;
    let ec = key("ec.key.pem", Algorithm::ES256);
    let mut expired = rampart_tests::claims("alice", "notes:read");
    expired["cnf"] = json!({"jkt": thumbprint(&ec.jwk).unwrap()});
    expired["exp"] = json!(now() - 3600);
    let token = Scheme::Hs256.token(&expired);
    let proof = proof_for(&ec, "https://notes.example/notes", &token);
    let reply = send(&app, list_notes(&format!("DPoP {token}"), Some(&proof))).await;
    // Expiry is said (the client must get a new token); a forged one is only "invalid".
    assert_dpop_challenge(&reply, "invalid_token", "the access token expired");
    let mut claims = expired.clone();
    claims["exp"] = json!(now() + 3600);
    let wrong_key = EncodingKey::from_secret(b"not-the-service-secret-0123456789abcdef").unwrap();
    let forged = sign(&json!({"alg": "HS256", "typ": "JWT"}), &claims, &wrong_key, Algorithm::HS256);
    let proof = proof_for(&ec, "https://notes.example/notes", &forged);
    let reply = send(&app, list_notes(&format!("DPoP {forged}"), Some(&proof))).await;
    assert_dpop_challenge(&reply, "invalid_token", "the access token is invalid");
}

/// Reads a ledger: only with a DPoP-bound token, whatever the service allows.
#[rampart::secure(get, path = "/ledger", scope = "notes:read", dpop = "required", rate = "100/min")]
async fn ledger(user: rampart::auth::Principal) -> String {
    user.subject().to_owned()
}

/// Reads notes: bearer or DPoP, as the service allows.
#[rampart::secure(get, path = "/notes", scope = "notes:read", rate = "100/min")]
async fn notes_route(user: rampart::auth::Principal) -> String {
    user.subject().to_owned()
}

#[tokio::test]
async fn a_route_that_requires_dpop_refuses_bearer_tokens_and_api_keys_and_says_so_in_its_document() {
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let key = "a-reporting-key-0123456789abcdef";
    let keys =
        rampart::auth::ApiKeys::default().with(rampart::auth::ApiKey::from_plaintext("reporting", key, ["notes:read"]));
    let authenticator = rampart::auth::Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .api_keys(keys)
        .dpop(rampart::auth::DpopMode::Allowed, "https://api.example")
        .build()
        .unwrap();
    let router = rampart::Router::new().mount(ledger).mount(notes_route);
    let document = serde_json::to_value(rampart::openapi::document(
        router.inventory(),
        &rampart::openapi::ApiDocs::new("t", "1").dpop(rampart::auth::DpopMode::Allowed).api_keys(true),
    ))
    .unwrap();
    let app = router.secured(&rampart::Security::new(authenticator));

    let plain = Scheme::Hs256.token(&rampart_tests::claims("bob", "notes:read"));
    let get = |path: &str, authorization: (&str, String), proof: Option<String>| {
        let mut request = axum::http::Request::get(path).header(authorization.0, authorization.1);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.body(axum::body::Body::empty()).unwrap()
    };
    // The same bearer token reaches the ordinary route (and is cached), not the DPoP one.
    let bearer = ("authorization", format!("Bearer {plain}"));
    assert_eq!(send(&app, get("/notes", bearer.clone(), None)).await.status, axum::http::StatusCode::OK);
    let refused = send(&app, get("/ledger", bearer, None)).await;
    assert_eq!(refused.status, axum::http::StatusCode::UNAUTHORIZED);
    assert!(refused.header("www-authenticate").starts_with(r#"DPoP realm="api", error="invalid_token""#));
    let with_key = send(&app, get("/ledger", ("x-api-key", key.to_owned()), None)).await;
    assert_eq!(with_key.status, axum::http::StatusCode::UNAUTHORIZED);
    assert!(with_key.header("www-authenticate").starts_with("DPoP "));
    // A bound token with its proof passes.
    let ec = key_of("ec.key.pem");
    let mut bound = rampart_tests::claims("alice", "notes:read");
    bound["cnf"] = json!({"jkt": thumbprint(&ec.jwk).unwrap()});
    let token = Scheme::Hs256.token(&bound);
    let proof = proof_for(&ec, "https://api.example/ledger", &token);
    let reply = send(&app, get("/ledger", ("authorization", format!("DPoP {token}")), Some(proof))).await;
    assert_eq!(reply.status, axum::http::StatusCode::OK);

    // The document: the DPoP route offers the dpop scheme only, the other every scheme.
    assert_eq!(document["paths"]["/ledger"]["get"]["security"], json!([{"dpop": ["notes:read"]}]));
    assert_eq!(document["paths"]["/ledger"]["get"]["x-rampart-dpop"], "required");
    assert_eq!(
        document["paths"]["/notes"]["get"]["security"],
        json!([{"bearer": ["notes:read"]}, {"dpop": ["notes:read"]}, {"apiKey": ["notes:read"]}])
    );
}

pub(super) fn key_of(file: &str) -> Key {
    key(file, Algorithm::ES256)
}

#[test]
fn a_route_that_requires_dpop_on_a_service_without_it_refuses_to_start_saying_what_to_change() {
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let authenticator = rampart::auth::Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .dpop(rampart::auth::DpopMode::Off, "https://api.example")
        .build()
        .unwrap();
    let security = rampart::Security::new(authenticator);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rampart::Router::new().mount(ledger).secured(&security)
    }));
    let message = *refused.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        "`GET /ledger` requires DPoP-bound tokens (dpop = \"required\") but this service does not accept them \
         (RAMPART_DPOP=off): set RAMPART_DPOP=allowed or required, or remove `dpop` from the route"
    );
}

/// The notes route of a service accepting DPoP proofs for `https://api.example`, with what
/// `configure` adds to its authenticator.
fn dpop_service(
    configure: impl FnOnce(rampart::auth::AuthenticatorBuilder) -> rampart::auth::AuthenticatorBuilder,
) -> rampart::SecuredRouter {
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let builder = rampart::auth::Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .dpop(rampart::auth::DpopMode::Allowed, "https://api.example");
    let authenticator = configure(builder).build().unwrap();
    rampart::Router::new().mount(notes_route).secured(&rampart::Security::new(authenticator))
}

/// One instance of a service whose DPoP proofs are also recorded in the Redis at `url`, under
/// `prefix`.
fn instance(url: &str, prefix: &str) -> rampart::SecuredRouter {
    let redis =
        rampart::rate::RedisStore::connect(url, std::time::Duration::from_millis(300)).unwrap().with_prefix(prefix);
    dpop_service(|builder| builder.dpop_replays(std::sync::Arc::new(redis.dpop_replays())))
}

/// Alice's token, bound to `key`.
fn bound_to(key: &Key) -> String {
    let mut bound = rampart_tests::claims("alice", "notes:read");
    bound["cnf"] = json!({"jkt": thumbprint(&key.jwk).unwrap()});
    Scheme::Hs256.token(&bound)
}

#[tokio::test]
async fn a_proof_used_at_one_instance_is_refused_at_another_sharing_redis() {
    let prefix = format!("rampart-test:dpop:{}:{}", std::process::id(), now());
    let (first, second) = (instance(REDIS, &prefix), instance(REDIS, &prefix));
    let ec = key_of("ec.key.pem");
    let token = bound_to(&ec);
    let proof = proof_for(&ec, "https://api.example/notes", &token);
    let authorization = format!("DPoP {token}");

    assert_eq!(send(&first, list_notes(&authorization, Some(&proof))).await.status, axum::http::StatusCode::OK);
    // Replayed to the other instance, whose own cache never saw it.
    let replayed = send(&second, list_notes(&authorization, Some(&proof))).await;
    assert_dpop_challenge(&replayed, "invalid_dpop_proof", "the DPoP proof is invalid");
    // A fresh proof passes at either.
    let fresh = proof_for(&ec, "https://api.example/notes", &token);
    assert_eq!(send(&second, list_notes(&authorization, Some(&fresh))).await.status, axum::http::StatusCode::OK);

    // The proof is kept in Redis for its window only.
    let mut redis = redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:dpop:*")).query_async(&mut redis).await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let ttl: i64 = redis::cmd("TTL").arg(&keys[0]).query_async(&mut redis).await.unwrap();
    assert!((1..=70).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn without_an_answer_from_the_shared_store_a_proof_is_refused_with_503() {
    // Nothing listens on port 9 of loopback.
    let app = instance("redis://127.0.0.1:9", "rampart-test:dpop:down");
    let ec = key_of("ec.key.pem");
    let token = bound_to(&ec);
    let proof = proof_for(&ec, "https://api.example/notes", &token);
    let reply = send(&app, list_notes(&format!("DPoP {token}"), Some(&proof))).await;
    assert_eq!(reply.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "1");
    assert!(reply.headers.get("www-authenticate").is_none());
}

#[tokio::test]
async fn with_nonces_required_a_proof_carries_the_nonce_the_service_gave() {
    let app = dpop_service(|builder| builder.dpop_nonces(rampart::auth::NonceIssuer::new(&[3; 32])));
    let ec = key_of("ec.key.pem");
    let token = bound_to(&ec);
    let authorization = format!("DPoP {token}");
    let with_nonce = |nonce: &str, uri: &str| {
        let mut claims = claims("GET", uri, now());
        claims["ath"] = json!(token_hash(&token));
        claims["nonce"] = json!(nonce);
        proof(&ec, &claims)
    };

    // Without a nonce: told to use one, and given it.
    let first =
        send(&app, list_notes(&authorization, Some(&proof_for(&ec, "https://api.example/notes", &token)))).await;
    assert_dpop_challenge(&first, "use_dpop_nonce", "sign the proof again with the nonce in DPoP-Nonce");
    let nonce = first.header("dpop-nonce").to_owned();
    assert!(nonce.len() >= 32, "{nonce}");
    // With it: served.
    let served = send(&app, list_notes(&authorization, Some(&with_nonce(&nonce, "https://api.example/notes")))).await;
    assert_eq!(served.status, axum::http::StatusCode::OK);
    // Another service's nonce, or an invented one: told again, with a fresh nonce.
    let foreign = rampart::auth::NonceIssuer::new(&[4; 32]).issue();
    for bad in [foreign.as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""] {
        let refused = send(&app, list_notes(&authorization, Some(&with_nonce(bad, "https://api.example/notes")))).await;
        assert_dpop_challenge(&refused, "use_dpop_nonce", "sign the proof again with the nonce in DPoP-Nonce");
        assert!(!refused.header("dpop-nonce").is_empty());
    }
    // The builder takes the nonces before or after DPoP itself.
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let nonces_first = rampart::auth::Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .dpop_nonces(rampart::auth::NonceIssuer::new(&[3; 32]))
        .dpop(rampart::auth::DpopMode::Allowed, "https://api.example")
        .build()
        .unwrap();
    assert!(nonces_first.dpop_nonce().is_some_and(|nonce| rampart::auth::NonceIssuer::new(&[3; 32]).accepts(&nonce)));
    // A proof refused for another reason still comes with a nonce for the next one.
    let elsewhere =
        send(&app, list_notes(&authorization, Some(&with_nonce(&nonce, "https://api.example/other")))).await;
    assert_dpop_challenge(&elsewhere, "invalid_dpop_proof", "the DPoP proof is invalid");
    assert!(!elsewhere.header("dpop-nonce").is_empty());
}

/// Alice's token for `subject`, bound to `key`.
fn bound_for(subject: &str, key: &Key) -> String {
    let mut bound = rampart_tests::claims(subject, "notes:read");
    bound["cnf"] = json!({"jkt": thumbprint(&key.jwk).unwrap()});
    Scheme::Hs256.token(&bound)
}

/// One authenticated caller sending fresh proofs of its own key as fast as it can fills only its
/// own share of the replay cache (then its own proofs are refused, `dpop_busy`): another caller's
/// proofs are still taken. And proofs of another key than the token's are refused before they are
/// recorded: a thief holding Alice's token uses up nothing of hers.
#[tokio::test]
async fn a_proof_flood_from_one_caller_does_not_refuse_another_callers_proofs() {
    // 1,600 live proofs: 100 per shard, 7 per caller (1/16 of a shard).
    let app = dpop_service(|builder| builder.dpop_replay_capacity(1_600));
    let (mallory_key, alice_key) = (key_of("ec2.key.pem"), key_of("ec.key.pem"));
    let mallory = bound_for("mallory", &mallory_key);
    let mut taken = 0;
    for _ in 0..40 {
        let proof = proof_for(&mallory_key, "https://api.example/notes", &mallory);
        let reply = send(&app, list_notes(&format!("DPoP {mallory}"), Some(&proof))).await;
        if reply.status == axum::http::StatusCode::OK {
            taken += 1;
        } else {
            assert_dpop_challenge(&reply, "invalid_dpop_proof", "the DPoP proof is invalid");
        }
    }
    assert_eq!(taken, 7, "the flood is held to its caller's share");

    let alice = bound_for("alice", &alice_key);
    // Proofs signed with Mallory's key for Alice's token: refused, and not recorded.
    for _ in 0..20 {
        let stolen = proof_for(&mallory_key, "https://api.example/notes", &alice);
        let reply = send(&app, list_notes(&format!("DPoP {alice}"), Some(&stolen))).await;
        assert_dpop_challenge(&reply, "invalid_dpop_proof", "the DPoP proof is invalid");
    }
    for _ in 0..7 {
        let proof = proof_for(&alice_key, "https://api.example/notes", &alice);
        let reply = send(&app, list_notes(&format!("DPoP {alice}"), Some(&proof))).await;
        assert_eq!(reply.status, axum::http::StatusCode::OK);
    }
}
