//! Bearer header parsing and JWT verification, through the notes service's `GET /notes`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

use crate::oracle;
use crate::service::{self, AUDIENCE, ISSUER, SECRET};

const HS256_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// The first byte chooses the mode:
/// - `0`: the rest is the `Authorization` header value, as sent;
/// - `1`: the rest is a token's claims (any bytes), signed with the trusted key under HS256;
/// - `2`: the rest is `header \n claims` (any bytes), signed with the trusted key.
///
/// Modes 1 and 2 let the fuzzer reach claim validation: the signature is right, so only the
/// claims and the header decide. A 200 must then be earned: `iss`, `aud`, `exp`, `alg` and the
/// `notes:read` scope are checked here independently of Rampart's code.
pub fn bearer_jwt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (value, signed) = match mode % 3 {
        0 => (rest.to_vec(), None),
        1 => signed_bearer(HS256_HEADER, rest),
        _ => match rest.iter().position(|&b| b == b'\n') {
            Some(at) => signed_bearer(&rest[..at], &rest[at + 1..]),
            None => return,
        },
    };
    let Ok(value) = HeaderValue::from_bytes(&value) else { return };
    let request = || Request::get("/notes").header(AUTHORIZATION, value.clone()).body(Body::empty());
    let allowed = [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::TOO_MANY_REQUESTS];

    let first = service::send(request().expect("a valid request"));
    oracle::check(&first, &allowed);
    if first.status == StatusCode::OK {
        match &signed {
            Some((header, claims)) => assert_earned(header, claims),
            None => assert!(value.as_bytes().starts_with(b"Bearer ") || value.as_bytes().starts_with(b"bearer ")),
        }
    }
    // The second answer may come from the verification cache: it must be the same.
    let second = service::send(request().expect("a valid request"));
    oracle::check(&second, &allowed);
    if first.status != StatusCode::TOO_MANY_REQUESTS && second.status != StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(first.status, second.status, "the cached answer differs from the first");
    }
}

/// `Bearer base64url(header).base64url(claims).HS256-signature`.
/// A signed token's header and claims, as the fuzzer wrote them.
type Signed = Option<(Vec<u8>, Vec<u8>)>;

fn signed_bearer(header: &[u8], claims: &[u8]) -> (Vec<u8>, Signed) {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let key = EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key");
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("HS256 signs");
    (format!("Bearer {message}.{signature}").into_bytes(), Some((header.to_vec(), claims.to_vec())))
}

/// Panics unless a token with this header and these claims deserved a 200.
fn assert_earned(header: &[u8], claims: &[u8]) {
    let header: Value = serde_json::from_slice(header).expect("an accepted token has a JSON header");
    assert_eq!(header["alg"], "HS256", "accepted a token whose header says {header}");
    let claims: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(claims["iss"], ISSUER, "accepted a foreign issuer: {claims}");
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "accepted a token for another audience: {claims}");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let exp = claims["exp"].as_u64().or_else(|| claims["exp"].as_f64().map(|e| e as u64));
    assert!(exp.is_some_and(|exp| exp + 30 >= now), "accepted an expired or exp-less token: {claims}");
    let scoped = |value: &Value| match value {
        Value::String(s) => s.split(' ').any(|s| s == "notes:read"),
        Value::Array(items) => items.iter().any(|s| s == "notes:read"),
        _ => false,
    };
    assert!(scoped(&claims["scope"]) || scoped(&claims["scp"]), "accepted a token without notes:read: {claims}");
}
