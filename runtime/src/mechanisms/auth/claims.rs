//! A verified token's claims, parsed once, and the registered claims checked against the
//! issuer's rules.
//!
//! jsonwebtoken's `decode` parses the payload twice (once for its own checks, once into the
//! caller's type); the claims are parsed here once, into the map the [`super::Principal`] keeps,
//! refusing duplicate members (RFC 7515 §5.2), and the checks below read that map. They are
//! jsonwebtoken's, with the settings [`super::jwt`] used to give it:
//!
//! - `exp`, `iss`, `aud` and `sub` are required; a required claim of the wrong type counts as
//!   missing ([`TokenError::MissingClaim`]);
//! - `exp` and `nbf` are NumericDates (an integer, or a non-negative float, rounded);
//!   `exp < now - leeway` is [`TokenError::Expired`], `nbf > now + leeway` is
//!   [`TokenError::NotYetValid`];
//! - `iss` must be the issuer's (a string: an array of issuers names no one issuer);
//! - `aud` is a string or an array of strings, one of which must be among the audiences.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::TokenError;
use super::jose::DUPLICATE;

/// The default clock-skew allowance.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway accepted.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The claim rules of one issuer, applied to each of its keys.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: Duration,
}

/// The claims of a token.
pub(crate) type Claims = Map<String, Value>;

/// Decodes and parses the payload segment of a JWS.
///
/// # Errors
///
/// [`TokenError::Malformed`] when it is not base64url of a JSON object,
/// [`TokenError::DuplicateMember`] when a member repeats.
pub(crate) fn parse(segment: &str) -> Result<Claims, TokenError> {
    let bytes =
        URL_SAFE_NO_PAD.decode(segment).map_err(|_| TokenError::Malformed("the token is not a well-formed JWS"))?;
    serde_json::from_slice::<StrictClaims>(&bytes).map(|claims| claims.0).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            TokenError::DuplicateMember
        } else {
            TokenError::Malformed("the token is not a well-formed JWS")
        }
    })
}

/// Checks the registered claims of a verified token at `now` (Unix seconds): see the
/// [module docs](self).
///
/// # Errors
///
/// The [`TokenError`] of the first check that fails, in jsonwebtoken's order: required claims,
/// `exp`, `nbf`, `iss`, `aud`.
pub(crate) fn check_registered(claims: &Claims, rules: &ClaimRules, now: u64) -> Result<(), TokenError> {
    let exp = numeric_date(claims.get("exp")).and_then(Result::ok).ok_or(TokenError::MissingClaim("exp"))?;
    let Some(Value::String(iss)) = claims.get("iss") else { return Err(TokenError::MissingClaim("iss")) };
    let aud = claims.get("aud");
    let audience_matches = match aud {
        Some(Value::String(aud)) => Some(rules.audiences.iter().any(|ours| ours == aud)),
        Some(Value::Array(auds)) if auds.iter().all(Value::is_string) => {
            Some(auds.iter().filter_map(Value::as_str).any(|aud| rules.audiences.iter().any(|ours| ours == aud)))
        }
        _ => None,
    };
    let audience_matches = audience_matches.ok_or(TokenError::MissingClaim("aud"))?;
    if !matches!(claims.get("sub"), Some(Value::String(_))) {
        return Err(TokenError::MissingClaim("sub"));
    }
    let leeway = rules.leeway.as_secs();
    let nbf = match numeric_date(claims.get("nbf")) {
        None => None,
        Some(Ok(nbf)) => Some(nbf),
        Some(Err(())) => return Err(TokenError::Malformed("a registered claim has the wrong type")),
    };
    if exp < now.saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    if *iss != rules.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !audience_matches {
        return Err(TokenError::WrongAudience);
    }
    Ok(())
}

/// A NumericDate claim: `None` when absent, `Some(Err)` when not a non-negative number.
fn numeric_date(value: Option<&Value>) -> Option<Result<u64, ()>> {
    let value = value?;
    Some(match value.as_u64() {
        Some(n) => Ok(n),
        None => match value.as_f64() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "range checked")]
            Some(f) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => Ok(f.round() as u64),
            _ => Err(()),
        },
    })
}

/// A JSON object that refuses duplicate member names instead of keeping the last one.
struct StrictClaims(Claims);

impl<'de> Deserialize<'de> for StrictClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrictVisitor;
        impl<'de> Visitor<'de> for StrictVisitor {
            type Value = StrictClaims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictClaims, A::Error> {
                let mut members = Map::new();
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
                Ok(StrictClaims(members))
            }
        }
        deserializer.deserialize_map(StrictVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://idp.example".into(),
            audiences: vec!["api".into(), "notes".into()],
            leeway: Duration::from_secs(30),
        }
    }

    fn check(claims: Value) -> Result<(), TokenError> {
        let Value::Object(claims) = claims else { panic!("an object") };
        check_registered(&claims, &rules(), NOW)
    }

    fn valid() -> Value {
        json!({"sub": "alice", "iss": "https://idp.example", "aud": "notes", "exp": NOW + 60})
    }

    fn with(member: &str, value: Value) -> Value {
        let mut claims = valid();
        claims[member] = value;
        claims
    }

    fn without(member: &str) -> Value {
        let mut claims = valid();
        claims.as_object_mut().unwrap().remove(member);
        claims
    }

    #[test]
    fn a_valid_token_passes_with_the_leeway_both_ways() {
        assert_eq!(check(valid()), Ok(()));
        assert_eq!(check(with("exp", json!(NOW - 30))), Ok(()));
        assert_eq!(check(with("nbf", json!(NOW + 30))), Ok(()));
        assert_eq!(check(with("exp", json!((NOW + 60) as f64 + 0.4))), Ok(()));
        assert_eq!(check(with("aud", json!(["other", "api"]))), Ok(()));
    }

    #[test]
    fn each_failure_has_its_error() {
        for (claims, expected) in [
            (without("exp"), TokenError::MissingClaim("exp")),
            (with("exp", json!("tomorrow")), TokenError::MissingClaim("exp")),
            (with("exp", json!(-1)), TokenError::MissingClaim("exp")),
            (without("iss"), TokenError::MissingClaim("iss")),
            (with("iss", json!(["https://idp.example"])), TokenError::MissingClaim("iss")),
            (without("aud"), TokenError::MissingClaim("aud")),
            (with("aud", json!(["notes", 7])), TokenError::MissingClaim("aud")),
            (without("sub"), TokenError::MissingClaim("sub")),
            (with("sub", json!(42)), TokenError::MissingClaim("sub")),
            (with("nbf", json!("soon")), TokenError::Malformed("a registered claim has the wrong type")),
            (with("exp", json!(NOW - 31)), TokenError::Expired),
            (with("nbf", json!(NOW + 31)), TokenError::NotYetValid),
            (with("iss", json!("https://evil.example")), TokenError::WrongIssuer),
            (with("aud", json!("other")), TokenError::WrongAudience),
            (with("aud", json!([])), TokenError::WrongAudience),
        ] {
            assert_eq!(check(claims.clone()), Err(expected), "{claims}");
        }
    }

    #[test]
    fn expiry_is_reported_before_a_foreign_audience() {
        let mut claims = with("exp", json!(NOW - 3600));
        claims["aud"] = json!("other");
        assert_eq!(check(claims), Err(TokenError::Expired));
    }

    #[test]
    fn the_payload_is_parsed_strictly() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        assert_eq!(parse(&encode(r#"{"sub":"a","n":{"x":1}}"#)).unwrap()["n"]["x"], json!(1));
        assert_eq!(parse(&encode(r#"{"sub":"a","sub":"b"}"#)), Err(TokenError::DuplicateMember));
        assert!(matches!(parse(&encode(r#"["sub"]"#)), Err(TokenError::Malformed(_))));
        assert!(matches!(parse("!!"), Err(TokenError::Malformed(_))));
    }
}
