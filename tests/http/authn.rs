//! Token attacks against every signature scheme: each gets 401 with the RFC 6750 challenge and a
//! problem+json body; a valid token gets through.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use rampart::Security;
use rampart_tests::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn app_for(scheme: Scheme) -> (axum::Router, Calls) {
    let calls = Calls::default();
    (test_app(&Security::new(authenticator(&[scheme])), &calls), calls)
}

/// Every forged token of the issue's list, for one scheme, with a label.
fn attacks(scheme: Scheme) -> Vec<(&'static str, String)> {
    let key = scheme.signing_key();
    let alg = scheme.algorithm();
    let good = claims("alice", "notes:read");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        edit(&mut c);
        c
    };
    let header_with = |edit: &dyn Fn(&mut Value)| {
        let mut h = scheme.header();
        edit(&mut h);
        h
    };
    let mut list = Vec::new();

    for none in ["none", "None", "NONE", "nOnE"] {
        let header = header_with(&|h| h["alg"] = json!(none));
        list.push(("alg none", format!("{}.{}.", b64(&header), b64(&good))));
        list.push(("alg none with junk signature", format!("{}.{}.c2ln", b64(&header), b64(&good))));
    }
    // Key confusion: HS256 with the public key's PEM as HMAC secret (the classic attack), and an
    // HS256 token against an HMAC issuer relabelled as an asymmetric algorithm.
    match scheme {
        Scheme::Hs256 => {
            let header = header_with(&|h| h["alg"] = json!("RS256"));
            list.push(("alg relabelled RS256", sign(&header, &good, &key, Algorithm::HS256)));
        }
        _ => {
            let public = match scheme {
                Scheme::Rs256 => fixture("rsa.pub.pem"),
                Scheme::Es256 => fixture("ec.pub.pem"),
                _ => fixture("ed.pub.pem"),
            };
            let confused = EncodingKey::from_secret(&public).unwrap();
            let header = header_with(&|h| h["alg"] = json!("HS256"));
            list.push(("key confusion HS256 with public key", sign(&header, &good, &confused, Algorithm::HS256)));
        }
    }
    list.push(("expired", sign(&scheme.header(), &with(&|c| c["exp"] = json!(now() - 120)), &key, alg)));
    list.push(("nbf in the future", sign(&scheme.header(), &with(&|c| c["nbf"] = json!(now() + 3600)), &key, alg)));
    list.push(("wrong iss", sign(&scheme.header(), &with(&|c| c["iss"] = json!("https://evil.test")), &key, alg)));
    list.push(("wrong aud", sign(&scheme.header(), &with(&|c| c["aud"] = json!("other-api")), &key, alg)));
    list.push((
        "wrong aud in array",
        sign(&scheme.header(), &with(&|c| c["aud"] = json!(["other", "another"])), &key, alg),
    ));
    list.push((
        "missing exp",
        sign(&scheme.header(), &with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))), &key, alg),
    ));
    list.push((
        "missing iss",
        sign(&scheme.header(), &with(&|c| drop(c.as_object_mut().unwrap().remove("iss"))), &key, alg),
    ));
    list.push((
        "missing aud",
        sign(&scheme.header(), &with(&|c| drop(c.as_object_mut().unwrap().remove("aud"))), &key, alg),
    ));
    list.push((
        "missing sub",
        sign(&scheme.header(), &with(&|c| drop(c.as_object_mut().unwrap().remove("sub"))), &key, alg),
    ));
    list.push(("exp as string", sign(&scheme.header(), &with(&|c| c["exp"] = json!("9999999999")), &key, alg)));

    let valid = scheme.token(&good);
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[0] ^= 0x01;
    list.push(("signature tampered", format!("{head}.{payload}.{}", URL_SAFE_NO_PAD.encode(&sig))));
    list.push(("signature stripped", format!("{head}.{payload}.")));
    let escalated = b64(&with(&|c| c["scope"] = json!("notes:read notes:write admin")));
    list.push(("payload tampered", format!("{head}.{escalated}.{signature}")));
    list.push(("unknown kid", sign(&header_with(&|h| h["kid"] = json!("nope")), &good, &key, alg)));
    list.push((
        "jku pointing elsewhere",
        sign(&header_with(&|h| h["jku"] = json!("https://attacker.test/jwks.json")), &good, &key, alg),
    ));
    list.push(("x5u", sign(&header_with(&|h| h["x5u"] = json!("https://attacker.test/cert.pem")), &good, &key, alg)));
    list.push((
        "embedded jwk",
        sign(&header_with(&|h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})), &good, &key, alg),
    ));
    list.push(("typ of another token kind", sign(&header_with(&|h| h["typ"] = json!("dpop+jwt")), &good, &key, alg)));
    list.push(("crit not understood", sign(&header_with(&|h| h["crit"] = json!(["exp"])), &good, &key, alg)));
    let dup_header = format!(r#"{{"alg":"{0}","kid":"{1}","alg":"{0}"}}"#, scheme.alg_name(), scheme.kid());
    list.push(("duplicate header member", sign_raw(&URL_SAFE_NO_PAD.encode(dup_header), &b64(&good), &key, alg)));
    let dup_claims =
        format!(r#"{{"sub":"alice","sub":"admin","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{}}}"#, now() + 600);
    list.push((
        "duplicate claim member",
        sign_raw(&b64(&scheme.header()), &URL_SAFE_NO_PAD.encode(dup_claims), &key, alg),
    ));
    list.push(("oversized token", sign(&scheme.header(), &with(&|c| c["pad"] = json!("x".repeat(9000))), &key, alg)));
    list.push(("malformed base64", format!("{head}!.{payload}.{signature}")));
    list.push(("padded base64", format!("{head}==.{payload}.{signature}")));
    list.push(("two segments", format!("{head}.{payload}")));
    list.push(("five segments (JWE shape)", format!("{head}.{payload}.{signature}.a.b")));
    list.push(("header not JSON", format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("not json"))));
    list
}

#[tokio::test]
async fn every_token_attack_gets_401_with_challenge_for_every_scheme() {
    for scheme in Scheme::ALL {
        let (app, calls) = app_for(scheme);
        for (label, token) in attacks(scheme) {
            let reply = send(&app, get_with_token("/me", &token)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{scheme:?} {label}: {}", reply.json());
            let fragment: String = token.chars().rev().take(20).collect::<String>().chars().rev().collect();
            assert_invalid_token(&reply, if fragment.len() > 10 { &fragment } else { "" });
        }
        assert_eq!(calls.get(), 0, "{scheme:?}: a handler ran for a forged token");
    }
}

#[tokio::test]
async fn valid_token_gets_through_for_every_scheme() {
    for scheme in Scheme::ALL {
        let (app, calls) = app_for(scheme);
        let token = scheme.token(&claims("alice", "notes:read notes:write"));
        let reply = send(&app, get_with_token("/me", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme:?}");
        assert_eq!(reply.json(), json!({"sub": "alice", "scopes": ["notes:read", "notes:write"], "roles": []}));
        assert_eq!(calls.get(), 1);
    }
}

#[tokio::test]
async fn leeway_accepts_30_seconds_of_skew_and_no_more() {
    let (app, _) = app_for(Scheme::Hs256);
    let mut c = claims("alice", "");
    c["exp"] = json!(now() - 20);
    assert_eq!(send(&app, get_with_token("/me", &Scheme::Hs256.token(&c))).await.status, StatusCode::OK);
    c["exp"] = json!(now() - 45);
    let reply = send(&app, get_with_token("/me", &Scheme::Hs256.token(&c))).await;
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="test", error="invalid_token", error_description="the access token expired""#
    );
}

#[tokio::test]
async fn audience_may_be_an_array_containing_ours() {
    let (app, _) = app_for(Scheme::Es256);
    let mut c = claims("alice", "");
    c["aud"] = json!(["other", AUDIENCE]);
    assert_eq!(send(&app, get_with_token("/me", &Scheme::Es256.token(&c))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_of_another_configured_key_cannot_use_its_kid_to_switch_algorithm() {
    // Both an HMAC and an RSA key are trusted: an HS256 token naming the RSA key's kid is refused.
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256, Scheme::Rs256])), &calls);
    let header = json!({"alg": "HS256", "kid": Scheme::Rs256.kid()});
    let token = sign(&header, &claims("alice", ""), &Scheme::Hs256.signing_key(), Algorithm::HS256);
    assert_invalid_token(&send(&app, get_with_token("/me", &token)).await, "");
    // And each token under its own kid works.
    for scheme in [Scheme::Hs256, Scheme::Rs256] {
        let reply = send(&app, get_with_token("/me", &scheme.token(&claims("alice", "")))).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn header_level_attacks() {
    let (app, calls) = app_for(Scheme::Hs256);
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));

    // Two Authorization headers, even both valid.
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_invalid_token(&send(&app, request).await, &token[token.len() - 20..]);

    // Empty bearer, bearer with a space inside, a quote, a token in the query string only.
    for value in ["Bearer ", "Bearer a b", "Bearer \"abc\"", "Bearer"] {
        let request = Request::get("/me").header("authorization", value).body(Body::empty()).unwrap();
        assert_invalid_token(&send(&app, request).await, "");
    }

    // Basic scheme and no credentials: the challenge without an error code (RFC 6750 §3.1).
    for request in [
        Request::get("/me").header("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=").body(Body::empty()).unwrap(),
        Request::get("/me").body(Body::empty()).unwrap(),
        Request::get(format!("/me?access_token={token}")).body(Body::empty()).unwrap(),
    ] {
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("www-authenticate"), r#"Bearer realm="test""#);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(
            reply.json(),
            json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "authentication is required"})
        );
        assert_security_headers(&reply);
    }
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn api_keys_authenticate_with_their_own_scopes_and_nothing_else() {
    use rampart::auth::{ApiKey, ApiKeys, Authenticator};
    let keys = ApiKeys::default()
        .with(ApiKey::from_plaintext("ci-bot", "ci-bot-key-0123456789abcdef", ["notes:write"]))
        .with(ApiKey::from_sha256_hex("reader", &sha256_hex("reader-key-0123456789abcdef"), ["notes:read"]).unwrap());
    let authenticator = Authenticator::builder().api_keys(keys).realm("test").build().unwrap();
    let calls = Calls::default();
    let app = test_app(&Security::new(authenticator), &calls);
    let with_key = |path: &str, method: &str, key: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    let reply = send(&app, with_key("/me", "GET", "reader-key-0123456789abcdef")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["sub"], "reader");
    assert_eq!(send(&app, with_key("/write", "POST", "ci-bot-key-0123456789abcdef")).await.status, StatusCode::OK);
    assert_eq!(
        send(&app, with_key("/write", "POST", "reader-key-0123456789abcdef")).await.status,
        StatusCode::FORBIDDEN
    );
    // A wrong key is challenged in the API-key scheme's terms, not as an access token.
    let wrong = send(&app, with_key("/me", "GET", "reader-key-0123456789abcdeX")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.header("www-authenticate"),
        r#"ApiKey realm="test", header="X-API-Key", error="invalid_key", error_description="the API key is invalid""#
    );
    assert_eq!(wrong.json()["detail"], "the API key is invalid");
    assert!(!String::from_utf8_lossy(&wrong.body).contains("0123456789abcdeX"));
    assert_security_headers(&wrong);
    // Bearer tokens are not accepted by a service configured for API keys only.
    let token = Scheme::Hs256.token(&claims("alice", "notes:write"));
    assert_invalid_token(&send(&app, get_with_token("/me", &token)).await, "");
    // Two keys, or a key and a bearer token together, are refused.
    let both = Request::get("/me")
        .header("x-api-key", "reader-key-0123456789abcdef")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let both = send(&app, both).await;
    assert_eq!(both.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        both.header("www-authenticate"),
        r#"Bearer realm="test", error="invalid_token", error_description="send one credential: a bearer token or an API key, not both""#
    );
    assert_eq!(both.json()["detail"], "send one credential: a bearer token or an API key, not both");
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn revoked_tokens_are_refused() {
    use rampart::auth::{MemoryRevocations, Revocations};
    use std::sync::Arc;
    let revocations = Arc::new(MemoryRevocations::default());
    let app = test_app(&Security::new(authenticator_revoking(revocations.clone())), &Calls::default());
    let mut c = claims("alice", "");
    c["jti"] = json!("token-42");
    let token = Scheme::Hs256.token(&c);
    for _ in 0..2 {
        assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK);
    }
    // Another issuer's token with the same `jti` revoked: not this one (the issuer is part of the
    // entry).
    revocations
        .revoke(&rampart::auth::revocation_key("https://other-issuer.test", "token-42"), now() + 600)
        .await
        .unwrap();
    assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK);
    // Verified twice, the token is remembered now; the revocation check still runs on every request.
    revocations.revoke(&rampart::auth::revocation_key(rampart_tests::ISSUER, "token-42"), now() + 600).await.unwrap();
    assert_invalid_token(&send(&app, get_with_token("/me", &token)).await, "");
}

#[tokio::test]
async fn several_issuers_each_with_their_own_keys_and_audience() {
    use rampart::auth::{Authenticator, Issuer, JwtVerifier};
    let first = Issuer::builder("https://one.test", ["api-one"]).key(Scheme::Es256.verification_key()).build().unwrap();
    let second =
        Issuer::builder("https://two.test", ["api-two"]).key(Scheme::EdDsa.verification_key()).build().unwrap();
    let authenticator =
        Authenticator::builder().jwt(JwtVerifier::new(vec![first, second])).realm("test").build().unwrap();
    let app = test_app(&Security::new(authenticator), &Calls::default());
    let token = |scheme: Scheme, iss: &str, aud: &str| {
        let mut c = claims("alice", "");
        c["iss"] = json!(iss);
        c["aud"] = json!(aud);
        scheme.token(&c)
    };
    assert_eq!(
        send(&app, get_with_token("/me", &token(Scheme::Es256, "https://one.test", "api-one"))).await.status,
        200
    );
    assert_eq!(
        send(&app, get_with_token("/me", &token(Scheme::EdDsa, "https://two.test", "api-two"))).await.status,
        200
    );
    // Each issuer's audience and keys are its own.
    for forged in [
        token(Scheme::Es256, "https://one.test", "api-two"),
        token(Scheme::Es256, "https://two.test", "api-two"),
        token(Scheme::EdDsa, "https://one.test", "api-one"),
        token(Scheme::Es256, "https://three.test", "api-one"),
    ] {
        assert_invalid_token(&send(&app, get_with_token("/me", &forged)).await, "");
    }
}

/// A token verifies until `exp + leeway`: its revocation must last as long, in memory and in
/// Redis. Here the token expired a second ago (within the 30 s leeway) and was revoked.
#[tokio::test]
async fn a_revoked_token_stays_refused_after_its_exp_within_the_leeway() {
    use rampart::auth::{MemoryRevocations, Revocations};
    use std::sync::Arc;
    let revocations = Arc::new(MemoryRevocations::default());
    let app = test_app(&Security::new(authenticator_revoking(revocations.clone())), &Calls::default());
    let mut c = claims("alice", "");
    c["jti"] = json!("expired-but-in-leeway");
    c["exp"] = json!(now() - 1);
    let token = Scheme::Hs256.token(&c);
    assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK, "within the leeway");
    revocations
        .revoke(&rampart::auth::revocation_key(rampart_tests::ISSUER, "expired-but-in-leeway"), now() - 1)
        .await
        .unwrap();
    let reply = send(&app, get_with_token("/me", &token)).await;
    assert_invalid_token(&reply, "");

    // Redis keeps it as long.
    let redis = rampart::rate::RedisStore::connect("redis://127.0.0.1:6379", Duration::from_secs(1))
        .unwrap()
        .with_prefix(format!("revocation-test-{}", std::process::id()));
    let shared = redis.revocations();
    shared
        .revoke(&rampart::auth::revocation_key(rampart_tests::ISSUER, "expired-but-in-leeway"), now() - 1)
        .await
        .unwrap();
    assert!(
        shared
            .is_revoked(&rampart::auth::revocation_key(rampart_tests::ISSUER, "expired-but-in-leeway"))
            .await
            .unwrap()
    );
}

/// With the revocation store down: `closed` answers 503 + `Retry-After` (the token is not
/// called invalid), `open` serves the verified token; either way the store is asked at most once
/// a second, so requests do not each wait out its timeout.
#[tokio::test]
async fn an_unreachable_revocation_store_follows_its_failure_mode_and_is_backed_off() {
    use rampart::auth::{Authenticator, Issuer, JwtVerifier, RevocationFailure};
    use std::sync::Arc;
    // A "Redis" that accepts connections and never answers: every round trip waits out the
    // 200 ms timeout, unless the store is backed off.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let down = rampart::rate::RedisStore::connect(&url, Duration::from_millis(200)).unwrap();
    let app_with = |mode| {
        let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
        let authenticator = Authenticator::builder()
            .jwt(JwtVerifier::new(vec![issuer]))
            .revocations(Arc::new(down.revocations()))
            .revocation_failure(mode)
            .realm("test")
            .build()
            .unwrap();
        test_app(&Security::new(authenticator), &Calls::default())
    };
    let mut c = claims("alice", "");
    c["jti"] = json!("some-token");
    let token = Scheme::Hs256.token(&c);

    let closed = app_with(RevocationFailure::Closed);
    let started = Instant::now();
    let first = send(&closed, get_with_token("/me", &token)).await;
    assert!(started.elapsed() >= Duration::from_millis(200), "the first request waited for the store");
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.header("retry-after"), "1");
    assert_eq!(first.header("content-type"), "application/problem+json");
    assert!(first.headers.get("www-authenticate").is_none(), "the token is not called invalid");
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(send(&closed, get_with_token("/me", &token)).await.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "backed off (each would wait 200 ms otherwise, 4 s in all): 20 requests took {:?}",
        started.elapsed()
    );

    let open = app_with(RevocationFailure::Open);
    assert_eq!(send(&open, get_with_token("/me", &token)).await.status, StatusCode::OK);
    assert_eq!(send(&open, get_with_token("/me", &token)).await.status, StatusCode::OK);
}
