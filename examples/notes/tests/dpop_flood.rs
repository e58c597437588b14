//! A DPoP proof flood against the notes binary over loopback: Mallory, authenticated with a
//! token bound to her own key, sends fresh proofs as fast as one connection goes. The replay
//! cache holds her proofs up to her share of it (then refuses hers, `invalid_dpop_proof`), and
//! Alice's proofs, from another address, are served all along. Proofs of Mallory's key sent with
//! Alice's token are refused before they are recorded.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart::auth::dpop::{thumbprint, token_hash};
use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Service;

const SECRET: &str = "dpop-flood-test-secret-0123456789abcdef";
const PUBLIC_URL: &str = "http://notes.test";
/// The default replay cache (1,000,000 proofs in 16 shards) gives a caller 1/16 of a shard.
const SHARE: usize = 1_000_000_usize.div_ceil(16).div_ceil(16);

struct Key {
    signing: EncodingKey,
    jwk: Value,
}

fn key() -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let signing = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let jwk = serde_json::to_value(Jwk::from_encoding_key(&signing, Algorithm::ES256).unwrap()).unwrap();
    Key { signing, jwk }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token for `subject`, bound to `key`.
fn bound_token(subject: &str, key: &Key) -> String {
    TokenRequest::new(subject, "rampart-dev", "notes")
        .scopes(["notes:read"])
        .claim("cnf", json!({"jkt": thumbprint(&key.jwk).unwrap()}))
        .sign_hs256(SECRET.as_bytes())
        .unwrap()
}

/// A fresh proof of `key` for `GET /notes` with `token`.
fn proof(key: &Key, token: &str, n: usize) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("dpop+jwt".to_owned());
    header.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
    let jti = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{n}-{}", rand::random::<u64>()));
    let claims =
        json!({"jti": jti, "htm": "GET", "htu": format!("{PUBLIC_URL}/notes"), "iat": now(), "ath": token_hash(token)});
    jsonwebtoken::encode(&header, &claims, &key.signing).unwrap()
}

fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(source.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn list(service: &Service, from: &reqwest::Client, token: &str, proof: &str) -> reqwest::Response {
    from.get(format!("http://{}/notes", service.addr))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_proof(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains(r#"error="invalid_dpop_proof""#), "{challenge}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_callers_proof_flood_fills_only_its_own_share() {
    let service = Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_PUBLIC_URL", PUBLIC_URL)]);
    let (mallory_key, alice_key) = (key(), key());
    let (mallory, alice) = (bound_token("mallory", &mallory_key), bound_token("alice", &alice_key));
    let (attacker, bystander) = (client_from("127.0.0.21"), client_from("127.0.0.22"));

    // Mallory's flood: each proof is recorded (past the first hundred her rate limit answers 429,
    // after the proof is checked), until her share is full.
    let mut recorded = 0;
    let mut refused = None;
    for n in 0..SHARE + 200 {
        let response = list(&service, &attacker, &mallory, &proof(&mallory_key, &mallory, n)).await;
        match response.status() {
            StatusCode::OK | StatusCode::TOO_MANY_REQUESTS => recorded += 1,
            _ => {
                refused = Some(n);
                assert_invalid_proof(response).await;
                break;
            }
        }
        // Alice, meanwhile, every 500 of Mallory's.
        if n % 500 == 0 {
            let served = list(&service, &bystander, &alice, &proof(&alice_key, &alice, n)).await;
            assert_eq!(served.status(), StatusCode::OK, "Alice refused during Mallory's flood");
        }
    }
    assert_eq!(refused, Some(SHARE), "Mallory's proofs are held to her share ({recorded} recorded)");

    // Mallory's key with Alice's token: refused, and nothing of Alice's share used up (ten: a
    // key mismatch is a guess, and twenty lock the address).
    for n in 0..10 {
        assert_invalid_proof(list(&service, &attacker, &alice, &proof(&mallory_key, &alice, n)).await).await;
    }
    for n in 0..20 {
        let served = list(&service, &bystander, &alice, &proof(&alice_key, &alice, 10_000 + n)).await;
        assert_eq!(served.status(), StatusCode::OK);
    }
}
