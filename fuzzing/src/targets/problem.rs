//! Body extraction, garde validation and problem+json rendering, through `POST /notes`.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::oracle;
use crate::service::{self, AUDIENCE, ISSUER, SECRET};

const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    None,
];

/// The first byte picks the content type; the rest is the body, sent by a fresh authorized
/// subject. The answer is 201 with the note (which is then deleted, so memory stays flat), or a
/// problem+json 400/413/415/422 (see the oracle): never a 5xx.
pub fn problem(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let subject = service::next_subject();
    let token = token(&subject);
    let mut request = Request::post("/notes").header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = CONTENT_TYPES[usize::from(mode) % CONTENT_TYPES.len()] {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let reply = service::send(request.body(Body::from(body.to_vec())).expect("a valid request"));
    oracle::check(
        &reply,
        &[
            StatusCode::CREATED,
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::UNPROCESSABLE_ENTITY,
        ],
    );
    if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
        let problem: Value = serde_json::from_slice(&reply.body).expect("checked by the oracle");
        assert!(problem["errors"].as_array().is_some_and(|e| !e.is_empty()), "a 422 lists its errors: {problem}");
    }
    if reply.status == StatusCode::CREATED {
        let note: Value = serde_json::from_slice(&reply.body).expect("a created note is JSON");
        let id = note["id"].as_u64().expect("a created note has an id");
        let delete = Request::delete(format!("/notes/{id}"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a valid request");
        assert_eq!(service::send(delete).status, StatusCode::NO_CONTENT, "its owner deletes the note");
    }
}

fn token(subject: &str) -> String {
    let claims = json!({"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "exp": 4_102_444_800_u64, "scope": "notes:read notes:write"});
    let key = EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key");
    jsonwebtoken::encode(&Header::default(), &claims, &key).expect("HS256 signs")
}
