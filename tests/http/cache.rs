//! The verification cache from the attacker's side: only valid tokens are remembered, a
//! remembered token still expires at its `exp`, and it never outlives a revocation (see
//! `authn::revoked_tokens_are_refused`, which revokes a token after it was cached) or a key
//! rotation (see `jwks::a_cached_token_dies_with_its_key`).

use std::time::Duration;

use axum::http::StatusCode;
use rampart::Security;
use rampart::auth::{Authenticator, Issuer, JwtVerifier, TokenError};
use rampart_tests::*;
use serde_json::json;

fn verifier(leeway: Duration) -> JwtVerifier {
    let issuer =
        Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).leeway(leeway).build().unwrap();
    JwtVerifier::new(vec![issuer])
}

#[tokio::test]
async fn only_verified_tokens_are_remembered() {
    let verifier = verifier(Duration::from_secs(30));
    let good = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let forged = sign(
        &Scheme::Hs256.header(),
        &claims("alice", "notes:read"),
        &Scheme::Es256.signing_key(),
        jsonwebtoken::Algorithm::ES256,
    );
    let first = verifier.verify(&good).await.unwrap();
    let second = verifier.verify(&good).await.unwrap();
    assert_eq!(first.subject(), second.subject());
    assert_eq!(verifier.cached_tokens(), 1);
    for _ in 0..3 {
        assert!(verifier.verify(&forged).await.is_err());
    }
    // A tampered copy of the cached token is a different key, and fails verification.
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(verifier.verify(&tampered).await.unwrap_err(), TokenError::BadSignature);
    assert_eq!(verifier.cached_tokens(), 1, "refused tokens are never remembered");

    let uncached = self::verifier(Duration::from_secs(30)).with_cache_capacity(0);
    uncached.verify(&good).await.unwrap();
    assert_eq!(uncached.cached_tokens(), 0);
}

#[tokio::test]
async fn a_remembered_token_still_expires_at_its_exp() {
    let issuer = Issuer::builder(ISSUER, [AUDIENCE])
        .key(Scheme::Hs256.verification_key())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).realm("test").build().unwrap();
    let app = test_app(&Security::new(authenticator), &Calls::default());
    let mut c = claims("alice", "");
    c["exp"] = json!(now() + 2);
    let token = Scheme::Hs256.token(&c);
    assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK);
    assert_eq!(send(&app, get_with_token("/me", &token)).await.status, StatusCode::OK);
    // Past `exp` (whole seconds), the cached verification is no longer used.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let reply = send(&app, get_with_token("/me", &token)).await;
    assert_invalid_token(&reply, "");
    assert!(reply.header("www-authenticate").contains("expired"), "{}", reply.header("www-authenticate"));
}

/// More live tokens than the cache holds, each used twice: it stays within its byte budget,
/// evicts one entry at a time (it never empties itself), and keeps a token that is used again
/// and again.
#[tokio::test]
async fn more_live_tokens_than_it_holds_keep_the_hot_one_within_the_budget() {
    let budget = 256 * 1024;
    let verifier = verifier(Duration::from_secs(30)).with_cache_bytes(budget);
    let hot = Scheme::Hs256.token(&claims("hot-user", "notes:read"));
    verifier.verify(&hot).await.unwrap();
    verifier.verify(&hot).await.unwrap();
    let mut lowest_after_full = usize::MAX;
    for i in 0..3_000 {
        let cold = Scheme::Hs256.token(&claims(&format!("cold-user-{i}"), "notes:read"));
        verifier.verify(&cold).await.unwrap();
        verifier.verify(&cold).await.unwrap();
        assert!(verifier.cached_bytes() <= budget, "{} bytes held", verifier.cached_bytes());
        if i % 10 == 0 {
            verifier.verify(&hot).await.unwrap();
        }
        if i >= 1_000 {
            lowest_after_full = lowest_after_full.min(verifier.cached_tokens());
        }
    }
    assert!(lowest_after_full > 100, "the cache emptied itself: {lowest_after_full} tokens at its lowest");
    // The hot token is still a hit: verifying it again adds nothing and finds it remembered.
    let before = verifier.cached_tokens();
    verifier.verify(&hot).await.unwrap();
    assert_eq!(verifier.cached_tokens(), before);
}

/// An attacker holding a signing oracle's output (or a flood of users each making one request)
/// sends valid tokens used once: they are verified, served, and never remembered, so the
/// regulars' entries stay and the cache's memory does not move.
#[tokio::test]
async fn valid_tokens_used_once_push_out_nothing() {
    let verifier = verifier(Duration::from_secs(30)).with_cache_bytes(256 * 1024);
    let regulars: Vec<String> =
        (0..10).map(|i| Scheme::Hs256.token(&claims(&format!("regular-{i}"), "notes:read"))).collect();
    // Each twice in a row: the doorkeeper's slots are shared (last writer wins), so two regulars
    // whose hashes share a slot, verified in turns, could each overwrite the other's mark.
    for token in &regulars {
        verifier.verify(token).await.unwrap();
        verifier.verify(token).await.unwrap();
    }
    let (held, bytes) = (verifier.cached_tokens(), verifier.cached_bytes());
    assert_eq!(held, regulars.len());
    for i in 0..2_000 {
        let once = Scheme::Hs256.token(&claims(&format!("once-{i}"), "notes:read"));
        assert_eq!(verifier.verify(&once).await.unwrap().subject(), format!("once-{i}"));
    }
    assert_eq!((verifier.cached_tokens(), verifier.cached_bytes()), (held, bytes));
}
