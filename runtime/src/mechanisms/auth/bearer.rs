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
use crate::vocabulary::auth_error::{BOTH_CREDENTIALS, EMPTY_API_KEY, NON_ASCII_API_KEY, SEVERAL_API_KEYS};

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// [`API_KEY_HEADER`] as a header name (parsing a name costs more than looking it up).
static API_KEY_HEADER_NAME: axum::http::HeaderName = axum::http::HeaderName::from_static(API_KEY_HEADER);

/// The credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// An OAuth 2.0 bearer token (a JWT).
    Bearer(&'a str),
    /// A DPoP-bound access token (`Authorization: DPoP`, RFC 9449 §7.1); its proof is the `DPoP`
    /// header.
    Dpop(&'a str),
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
    let credentials = extract_unchecked(headers, max_len)?;
    if let Credentials::Bearer(token) | Credentials::Dpop(token) = credentials {
        check_token(token.as_bytes(), max_len)?;
    }
    Ok(credentials)
}

/// [`extract_credentials`] without the b64token check of a bearer token, for callers that look
/// the token up among tokens verified before (whose syntax was checked then) and check it
/// themselves otherwise ([`check_bearer_syntax`]).
pub(crate) fn extract_unchecked(headers: &HeaderMap, max_len: usize) -> Result<Credentials<'_>, AuthError> {
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let mut api_key = headers.get_all(&API_KEY_HEADER_NAME).iter();
    let (first_auth, second_auth) = (authorization.next(), authorization.next());
    let (first_key, second_key) = (api_key.next(), api_key.next());
    if second_auth.is_some() {
        return Err(AuthError::Malformed("more than one Authorization header"));
    }
    if second_key.is_some() {
        return Err(AuthError::Malformed(SEVERAL_API_KEYS));
    }
    match (first_auth, first_key) {
        (Some(_), Some(_)) => Err(AuthError::Malformed(BOTH_CREDENTIALS)),
        (None, None) => Err(AuthError::Missing),
        (Some(value), None) => {
            // Bytes first: the b64token check below admits ASCII only, so one pass over the
            // token does what `to_str` and the check would do in two.
            let bytes = value.as_bytes();
            let split = bytes.iter().position(|&b| b == b' ').unwrap_or(bytes.len());
            let dpop = bytes[..split].eq_ignore_ascii_case(b"dpop");
            if !dpop && !bytes[..split].eq_ignore_ascii_case(b"bearer") {
                return Err(AuthError::UnsupportedScheme);
            }
            let rest = &bytes[split..];
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            let token = &rest[start..];
            if token.is_empty() {
                return Err(AuthError::Malformed("empty bearer token"));
            }
            if token.len() > max_len {
                return Err(AuthError::TooLarge { limit: max_len });
            }
            let token =
                std::str::from_utf8(token).map_err(|_| AuthError::Malformed("non-ASCII Authorization header"))?;
            Ok(if dpop { Credentials::Dpop(token) } else { Credentials::Bearer(token) })
        }
        (None, Some(value)) => {
            let key = value.to_str().map_err(|_| AuthError::Malformed(NON_ASCII_API_KEY))?;
            if key.is_empty() {
                return Err(AuthError::Malformed(EMPTY_API_KEY));
            }
            if key.len() > max_len {
                return Err(AuthError::TooLarge { limit: max_len });
            }
            Ok(Credentials::ApiKey(key))
        }
    }
}

/// The token of a request with exactly one `Authorization: Bearer <token>` header (this exact
/// spelling, one space) and no API key: the shape every client sends, read without decoding.
/// `None` for anything else, which [`extract_unchecked`] then reads (or refuses) in full. Used
/// to look a token up among those verified before, which were checked whole.
pub(crate) fn plain_bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (authorization.next(), authorization.next()) else { return None };
    if headers.contains_key(&API_KEY_HEADER_NAME) {
        return None;
    }
    value.as_bytes().strip_prefix(b"Bearer ")
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

/// Checks a bearer token's syntax: RFC 6750's b64token, at most `max_len` bytes.
///
/// # Errors
///
/// [`AuthError::Malformed`] or [`AuthError::TooLarge`].
pub(crate) fn check_bearer_syntax(token: &str, max_len: usize) -> Result<(), AuthError> {
    check_token(token.as_bytes(), max_len)
}

fn check_token(token: &[u8], max_len: usize) -> Result<(), AuthError> {
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token"));
    }
    if token.len() > max_len {
        return Err(AuthError::TooLarge { limit: max_len });
    }
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &token[..token.len() - padding];
    let valid = !body.is_empty() && body.iter().all(|&b| B64TOKEN[usize::from(b)]);
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
