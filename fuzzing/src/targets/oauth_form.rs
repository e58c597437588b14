//! The OAuth2 token endpoint: form parsing, client authentication, scope narrowing.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::service::{self, CLIENT_ID, CLIENT_SECRET};

/// RFC 6749 §5.2 error codes.
const ERROR_CODES: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// The first byte picks how the client authenticates: `0` nothing in the header, `1` the right
/// Basic credentials, `2` the rest up to a newline is the `Authorization` value. The rest is the
/// form body. A token is issued only to `fuzz-client` with its secret, for scopes it may have,
/// and it then works on the API; every refusal is an RFC 6749 error with `no-store`.
pub fn oauth_form(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut request = Request::post("/oauth/token").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    let body = match mode % 3 {
        0 => rest,
        1 => {
            let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
            request = request.header(AUTHORIZATION, basic);
            rest
        }
        _ => {
            let Some(at) = rest.iter().position(|&b| b == b'\n') else { return };
            let Ok(value) = HeaderValue::from_bytes(&rest[..at]) else { return };
            request = request.header(AUTHORIZATION, value);
            &rest[at + 1..]
        }
    };
    let reply = service::send(request.body(Body::from(body.to_vec())).expect("a valid request"));
    let status = reply.status;
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::PAYLOAD_TOO_LARGE {
        return crate::oracle::check(&reply, &[status]);
    }
    assert!(
        [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED].contains(&status),
        "unexpected status {status}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers.get(CACHE_CONTROL).map(HeaderValue::as_bytes), Some(&b"no-store"[..]));
    let answer: Value = serde_json::from_slice(&reply.body).expect("the token endpoint answers JSON");
    if status != StatusCode::OK {
        let code = answer["error"].as_str().unwrap_or_default();
        assert!(ERROR_CODES.contains(&code), "not an RFC 6749 error: {answer}");
        return;
    }
    let form: Vec<(String, String)> = form_urlencoded_pairs(body);
    assert!(form.iter().any(|(k, v)| k == "grant_type" && v == "client_credentials"), "issued without the grant");
    let scope = answer["scope"].as_str().expect("the granted scope is stated");
    assert!(
        scope.split(' ').all(|s| s == "notes:read" || s == "notes:write"),
        "granted a scope the client may not have: {scope}"
    );
    let token = answer["access_token"].as_str().expect("an access token");
    let used = Request::get("/notes").header(AUTHORIZATION, format!("Bearer {token}")).body(Body::empty());
    let used = service::send(used.expect("a valid request"));
    let expected = if scope.split(' ').any(|s| s == "notes:read") { StatusCode::OK } else { StatusCode::FORBIDDEN };
    if used.status != StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(used.status, expected, "the issued token ({scope}) does not work as granted");
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
