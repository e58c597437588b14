//! What jsonwebtoken does not check in a JWS: the raw protected header and duplicate members.
//!
//! jsonwebtoken decodes the header into a struct, so a `crit` member is silently ignored, `jku`,
//! `x5u`, `x5c` and an embedded `jwk` are accepted as data, and a duplicated member keeps its last
//! value. This module reads the header itself and refuses all of those (RFC 7515 §4.1.11, §5.2).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::TokenError;

/// Header members that would make the token choose its own key: never honoured, always refused.
/// `typ` values of access tokens (RFC 7519 §5.1, RFC 9068 §2.1).
const ACCEPTED_TYPES: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

const KEY_SELECTING_MEMBERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// The members of the protected header the verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
}

/// Splits a compact JWS and inspects its header.
///
/// # Errors
///
/// [`TokenError::Malformed`] when the token is not three base64url segments or the header is not a
/// JSON object, [`TokenError::DuplicateMember`], [`TokenError::ForbiddenHeader`] for `crit`, `jku`,
/// `x5u`, `x5c` or `jwk`, [`TokenError::AlgorithmNotAllowed`] for `none` in any casing.
pub(crate) fn inspect_header(token: &str) -> Result<RawHeader, TokenError> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(TokenError::Malformed("a JWS has exactly three segments"));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(TokenError::Malformed("empty JWS segment"));
    }
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed("the header is not base64url"))?;
    let StrictObject(mut members) = serde_json::from_slice::<StrictObject>(&bytes).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            TokenError::DuplicateMember
        } else {
            TokenError::Malformed("the header is not a JSON object")
        }
    })?;
    if members.contains_key("crit") {
        return Err(TokenError::ForbiddenHeader("crit"));
    }
    if let Some(name) = KEY_SELECTING_MEMBERS.iter().find(|name| members.contains_key(**name)) {
        return Err(TokenError::ForbiddenHeader(name));
    }
    // RFC 8725 §3.11: a token typed for something else (a DPoP proof, a logout token...) is not
    // an access token, even when signed by the same key.
    match members.get("typ") {
        None => {}
        Some(Value::String(typ)) if ACCEPTED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)) => {}
        Some(_) => return Err(TokenError::WrongType),
    }
    let alg = match members.remove("alg") {
        Some(Value::String(alg)) => alg,
        _ => return Err(TokenError::Malformed("the header has no `alg`")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    let kid = match members.remove("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(TokenError::Malformed("`kid` is not a string")),
    };
    Ok(RawHeader { alg, kid })
}

const DUPLICATE: &str = "duplicate member";

/// A JSON object that refuses duplicate member names instead of keeping the last one.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct StrictObject(pub(crate) HashMap<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrictVisitor;
        impl<'de> Visitor<'de> for StrictVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut members = HashMap::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(name) = map.next_key::<String>()? {
                    match members.entry(name) {
                        Entry::Occupied(entry) => {
                            return Err(de::Error::custom(format_args!("{DUPLICATE} `{}`", entry.key())));
                        }
                        Entry::Vacant(entry) => {
                            entry.insert(map.next_value::<Value>()?);
                        }
                    }
                }
                Ok(StrictObject(members))
            }
        }
        deserializer.deserialize_map(StrictVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_header(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn access_token_types_are_accepted() {
        for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt"] {
            let header = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            assert!(inspect_header(&token_with_header(&header)).is_ok(), "{typ}");
        }
    }

    #[test]
    fn plain_header_is_read() {
        let h = inspect_header(&token_with_header(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(h, RawHeader { alg: "HS256".into(), kid: Some("k1".into()) });
    }

    #[test]
    fn refused_headers() {
        for (header, expected) in [
            (r#"{"alg":"none"}"#, TokenError::AlgorithmNotAllowed),
            (r#"{"alg":"NoNe"}"#, TokenError::AlgorithmNotAllowed),
            (r#"{"alg":"HS256","crit":["exp"]}"#, TokenError::ForbiddenHeader("crit")),
            (r#"{"alg":"RS256","jku":"https://evil.example/jwks"}"#, TokenError::ForbiddenHeader("jku")),
            (r#"{"alg":"RS256","x5u":"https://evil.example/c"}"#, TokenError::ForbiddenHeader("x5u")),
            (r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AA"}}"#, TokenError::ForbiddenHeader("jwk")),
            (r#"{"alg":"HS256","alg":"none"}"#, TokenError::DuplicateMember),
            (r#"["alg"]"#, TokenError::Malformed("the header is not a JSON object")),
            (r#"{"typ":"JWT"}"#, TokenError::Malformed("the header has no `alg`")),
            (r#"{"alg":"HS256","typ":"dpop+jwt"}"#, TokenError::WrongType),
            (r#"{"alg":"HS256","typ":"logout+jwt"}"#, TokenError::WrongType),
        ] {
            assert_eq!(inspect_header(&token_with_header(header)).unwrap_err(), expected, "{header}");
        }
    }

    #[test]
    fn shape_is_checked() {
        assert!(inspect_header("a.b").is_err());
        assert!(inspect_header("a.b.c.d.e").is_err());
        assert!(inspect_header("!!!.e30.c2ln").is_err());
    }
}
