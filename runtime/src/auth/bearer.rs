//! Credential extraction from request headers (RFC 6750 §2.1, and `X-API-Key`).
//!
//! Exactly one credential is accepted: one `Authorization: Bearer <token>` header, or one
//! `X-API-Key` header. Several `Authorization` headers, both schemes at once, an empty token, a
//! token outside the RFC 6750 `b64token` alphabet, or one over the size bound are rejected before
//! any cryptography runs. A token in the query string is never looked at.
//!
//! # Examples
//!
//! ```
//! use axum::http::HeaderMap;
//! use rampart::auth::{Credentials, extract_credentials};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", "Bearer abc.def.ghi".parse().unwrap());
//! assert!(matches!(extract_credentials(&headers, 8192), Ok(Credentials::Bearer("abc.def.ghi"))));
//! ```

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::AuthError;

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// An OAuth 2.0 bearer token (a JWT).
    Bearer(&'a str),
    /// An API key from `X-API-Key`.
    ApiKey(&'a str),
}

/// Reads the one credential of a request.
///
/// # Errors
///
/// [`AuthError::Missing`] without credentials, [`AuthError::UnsupportedScheme`] for another
/// `Authorization` scheme (such as `Basic`), [`AuthError::Malformed`] for duplicates or a token with
/// characters outside `b64token`, [`AuthError::TooLarge`] past `max_len` bytes.
///
/// # Security
///
/// Runs before any signature check, so a malformed or oversized token costs almost nothing.
pub fn extract_credentials(headers: &HeaderMap, max_len: usize) -> Result<Credentials<'_>, AuthError> {
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let mut api_key = headers.get_all(API_KEY_HEADER).iter();
    let (first_auth, second_auth) = (authorization.next(), authorization.next());
    let (first_key, second_key) = (api_key.next(), api_key.next());
    if second_auth.is_some() {
        return Err(AuthError::Malformed("more than one Authorization header"));
    }
    if second_key.is_some() {
        return Err(AuthError::Malformed("more than one X-API-Key header"));
    }
    match (first_auth, first_key) {
        (Some(_), Some(_)) => Err(AuthError::Malformed("both a bearer token and an API key")),
        (None, None) => Err(AuthError::Missing),
        (Some(value), None) => {
            let value = value.to_str().map_err(|_| AuthError::Malformed("non-ASCII Authorization header"))?;
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(AuthError::UnsupportedScheme);
            }
            let token = rest.trim_start_matches(' ');
            check_token(token, max_len)?;
            Ok(Credentials::Bearer(token))
        }
        (None, Some(value)) => {
            let key = value.to_str().map_err(|_| AuthError::Malformed("non-ASCII X-API-Key header"))?;
            if key.is_empty() {
                return Err(AuthError::Malformed("empty API key"));
            }
            if key.len() > max_len {
                return Err(AuthError::TooLarge { limit: max_len });
            }
            Ok(Credentials::ApiKey(key))
        }
    }
}

/// RFC 6750 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// The characters of RFC 6750's b64token (before the trailing `=`): a table, since every byte of
/// every token is looked up.
static B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

fn check_token(token: &str, max_len: usize) -> Result<(), AuthError> {
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token"));
    }
    if token.len() > max_len {
        return Err(AuthError::TooLarge { limit: max_len });
    }
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty() && body.bytes().all(|b| B64TOKEN[usize::from(b)]);
    if valid { Ok(()) } else { Err(AuthError::Malformed("bearer token is not a b64token")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn one_bearer_token_is_extracted_case_insensitively() {
        let h = headers(&[("authorization", "bEaReR a.b.c")]);
        assert_eq!(extract_credentials(&h, 100).unwrap(), Credentials::Bearer("a.b.c"));
    }

    #[test]
    fn rejections() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "missing"),
            (&[("authorization", "Basic dXNlcjpwYXNz")], "scheme"),
            (&[("authorization", "Bearer a.b.c"), ("authorization", "Bearer a.b.c")], "malformed"),
            (&[("authorization", "Bearer ")], "malformed"),
            (&[("authorization", "Bearer")], "malformed"),
            (&[("authorization", "Bearer a b")], "malformed"),
            (&[("authorization", "Bearer a\"b")], "malformed"),
            (&[("authorization", "Bearer ===")], "malformed"),
            (&[("authorization", "Bearer a.b.c"), ("x-api-key", "k")], "malformed"),
            (&[("x-api-key", "")], "malformed"),
        ];
        for (pairs, expected) in cases {
            let mut map = HeaderMap::new();
            for (n, v) in *pairs {
                map.append(*n, HeaderValue::from_str(v).unwrap());
            }
            let got = extract_credentials(&map, 100).unwrap_err();
            let ok = match *expected {
                "missing" => matches!(got, AuthError::Missing),
                "scheme" => matches!(got, AuthError::UnsupportedScheme),
                _ => matches!(got, AuthError::Malformed(_)),
            };
            assert!(ok, "{pairs:?} gave {got:?}");
        }
    }

    #[test]
    fn oversized_token_is_rejected_before_parsing() {
        let long = format!("Bearer {}", "a".repeat(101));
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, HeaderValue::from_str(&long).unwrap());
        assert!(matches!(extract_credentials(&map, 100), Err(AuthError::TooLarge { limit: 100 })));
    }
}
