//! A verified token's claims, parsed once, and the registered claims checked against the
//! issuer's rules.
//!
//! jsonwebtoken's `decode` parses the payload twice (once for its own checks, once into the
//! caller's type); here the payload is read once, without building a JSON tree (the members
//! Rampart reads are kept as slices of its text: see `crate::vocabulary::payload`), refusing
//! duplicate members (RFC 7515 §5.2), and the checks below read those members; the
//! [`super::Principal`] keeps the text. They are
//! jsonwebtoken's, with the settings [`super::jwt`] used to give it:
//!
//! - `exp`, `iss`, `aud` and `sub` are required; a required claim of the wrong type counts as
//!   missing ([`TokenError::MissingClaim`]);
//! - `exp` and `nbf` are NumericDates (an integer, or a non-negative float, rounded);
//!   `exp < now - leeway` is [`TokenError::Expired`], `nbf > now + leeway` is
//!   [`TokenError::NotYetValid`];
//! - `iss` must be the issuer's (a string: an array of issuers names no one issuer);
//! - `aud` is a string or an array of strings, one of which must be among the audiences.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::TokenError;
pub(crate) use crate::vocabulary::payload::Members;
use crate::vocabulary::payload::{self, text, texts};

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

/// Decodes the payload segment of a JWS into its JSON text (read with [`Members::read`]).
///
/// # Errors
///
/// [`TokenError::Malformed`] when it is not base64url of UTF-8.
pub(crate) fn decode(segment: &str) -> Result<String, TokenError> {
    let malformed = || TokenError::Malformed("the token is not a well-formed JWS");
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| malformed())?;
    String::from_utf8(bytes).map_err(|_| malformed())
}

/// Checks the registered claims of a verified token at `now` (Unix seconds): see the
/// [module docs](self).
///
/// # Errors
///
/// The [`TokenError`] of the first check that fails, in jsonwebtoken's order: required claims,
/// `exp`, `nbf`, `iss`, `aud`.
pub(crate) fn check_registered(claims: &Members<'_>, rules: &ClaimRules, now: u64) -> Result<(), TokenError> {
    let exp = payload::numeric_date(claims.exp).and_then(Result::ok).ok_or(TokenError::MissingClaim("exp"))?;
    let iss = claims.iss.and_then(text).ok_or(TokenError::MissingClaim("iss"))?;
    let audience_matches = claims.aud.and_then(|aud| match text(aud) {
        Some(aud) => Some(rules.audiences.iter().any(|ours| *ours == aud)),
        None => texts(aud).map(|auds| auds.iter().any(|aud| rules.audiences.iter().any(|ours| ours == aud))),
    });
    let audience_matches = audience_matches.ok_or(TokenError::MissingClaim("aud"))?;
    if claims.sub.and_then(text).is_none() {
        return Err(TokenError::MissingClaim("sub"));
    }
    let leeway = rules.leeway.as_secs();
    let nbf = match payload::numeric_date(claims.nbf) {
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
    if iss != rules.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !audience_matches {
        return Err(TokenError::WrongAudience);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
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
        let text = claims.to_string();
        check_registered(&Members::read(&text, None)?, &rules(), NOW)
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
    fn the_payload_is_decoded_strictly() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        assert_eq!(decode(&encode(r#"{"sub":"a"}"#)).unwrap(), r#"{"sub":"a"}"#);
        assert!(matches!(decode("!!"), Err(TokenError::Malformed(_))));
        assert!(matches!(decode(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn a_date_as_a_float_or_a_string_and_an_escaped_audience() {
        assert_eq!(check(with("exp", json!(f64::MAX))), Err(TokenError::MissingClaim("exp")));
        assert_eq!(
            check(with("nbf", json!(null))),
            Err(TokenError::Malformed("a registered claim has the wrong type"))
        );
        let mut claims = valid().to_string();
        claims = claims.replace(r#""aud":"notes""#, r#""aud":"n\u006ftes""#);
        assert_eq!(check_registered(&Members::read(&claims, None).unwrap(), &rules(), NOW), Ok(()));
    }
}
