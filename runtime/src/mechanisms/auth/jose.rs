//! The compact JWS, split once, and its protected header, read once: what jsonwebtoken does not
//! check in a JWS.
//!
//! jsonwebtoken decodes the header into a struct, so a `crit` member is silently ignored, `jku`,
//! `x5u`, `x5c` and an embedded `jwk` are accepted as data, and a duplicated member keeps its last
//! value. This module reads the header itself and refuses all of those (RFC 7515 §4.1.11, §5.2).
//! It borrows the members it keeps from the decoded header instead of building a map of them:
//! the header is read on every verification, before the signature is checked.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::TokenError;
use crate::vocabulary::payload::Text;

/// `typ` values of access tokens (RFC 7519 §5.1, RFC 9068 §2.1).
const ACCEPTED_TYPES: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

/// Header members that would make the token choose its own key: never honoured, always refused.
const KEY_SELECTING_MEMBERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// The most members a header may have (real ones have at most six): bounds the duplicate check
/// on a header nobody has verified yet.
const MAX_HEADER_MEMBERS: usize = 16;

/// The three segments of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compact<'t> {
    /// The protected header, base64url.
    pub(crate) header: &'t str,
    /// The payload (the claims), base64url.
    pub(crate) payload: &'t str,
    /// The signature, base64url.
    pub(crate) signature: &'t str,
    /// What the signature covers: header, dot, payload.
    pub(crate) signing_input: &'t str,
}

impl<'t> Compact<'t> {
    /// Splits a compact JWS into its three segments.
    ///
    /// # Errors
    ///
    /// [`TokenError::Malformed`] unless there are exactly three non-empty segments.
    pub(crate) fn split(token: &'t str) -> Result<Self, TokenError> {
        let three = || TokenError::Malformed("a JWS has exactly three segments");
        let (signing_input, signature) = token.rsplit_once('.').ok_or_else(three)?;
        let (header, payload) = signing_input.split_once('.').ok_or_else(three)?;
        if payload.contains('.') {
            return Err(three());
        }
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(TokenError::Malformed("empty JWS segment"));
        }
        Ok(Self { header, payload, signature, signing_input })
    }
}

/// The members of the protected header the verifier needs, borrowed from the decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoseHeader<'h> {
    pub(crate) alg: Cow<'h, str>,
    pub(crate) kid: Option<Cow<'h, str>>,
}

/// Decodes the header segment into `buffer` and inspects it.
///
/// # Errors
///
/// [`TokenError::Malformed`] when the header is not base64url or not a JSON object (or has over
/// [`MAX_HEADER_MEMBERS`] members), [`TokenError::DuplicateMember`], [`TokenError::ForbiddenHeader`]
/// for `crit`, `jku`, `x5u`, `x5c` or `jwk`, [`TokenError::WrongType`] for a `typ` that is not an
/// access token's, [`TokenError::AlgorithmNotAllowed`] for `none` in any casing.
pub(crate) fn read_header<'h>(segment: &str, buffer: &'h mut Vec<u8>) -> Result<JoseHeader<'h>, TokenError> {
    buffer.clear();
    URL_SAFE_NO_PAD.decode_vec(segment, buffer).map_err(|_| TokenError::Malformed("the header is not base64url"))?;
    let members = serde_json::from_slice::<HeaderMembers<'h>>(buffer).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            TokenError::DuplicateMember
        } else if e.to_string().starts_with(TOO_MANY) {
            TokenError::Malformed("the header has too many members")
        } else {
            TokenError::Malformed("the header is not a JSON object")
        }
    })?;
    if members.present & CRIT != 0 {
        return Err(TokenError::ForbiddenHeader("crit"));
    }
    if let Some(name) = KEY_SELECTING_MEMBERS.iter().zip(KEY_SELECTING_BITS).find(|(_, bit)| members.present & bit != 0)
    {
        return Err(TokenError::ForbiddenHeader(name.0));
    }
    // RFC 8725 §3.11: a token typed for something else (a DPoP proof, a logout token...) is not
    // an access token, even when signed by the same key.
    match &members.typ {
        None => {}
        Some(Member::Text(typ)) if ACCEPTED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)) => {}
        Some(_) => return Err(TokenError::WrongType),
    }
    let alg = match members.alg {
        Some(Member::Text(alg)) => alg,
        _ => return Err(TokenError::Malformed("the header has no `alg`")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    let kid = match members.kid {
        None => None,
        Some(Member::Text(kid)) => Some(kid),
        Some(Member::Other) => return Err(TokenError::Malformed("`kid` is not a string")),
    };
    Ok(JoseHeader { alg, kid })
}

/// Splits `token` and inspects its header: whether it passes, and its `alg`.
pub(crate) fn header_alg_passes(token: &str, accept: impl FnOnce(&str) -> bool) -> bool {
    let mut buffer = Vec::new();
    Compact::split(token).and_then(|jws| read_header(jws.header, &mut buffer)).is_ok_and(|header| accept(&header.alg))
}

pub(crate) use crate::vocabulary::payload::DUPLICATE;
const TOO_MANY: &str = "too many members";

const ALG: u16 = 1;
const KID: u16 = 1 << 1;
const TYP: u16 = 1 << 2;
const CRIT: u16 = 1 << 3;
const KEY_SELECTING_BITS: [u16; 4] = [1 << 4, 1 << 5, 1 << 6, 1 << 7];

/// A header member's value: a string (borrowed when it has no escapes), or anything else.
#[derive(Debug)]
enum Member<'h> {
    Text(Cow<'h, str>),
    Other,
}

/// What one pass over the header finds.
#[derive(Debug, Default)]
struct HeaderMembers<'h> {
    alg: Option<Member<'h>>,
    kid: Option<Member<'h>>,
    typ: Option<Member<'h>>,
    /// The bits of the members seen (see the constants above).
    present: u16,
}

impl<'de> Deserialize<'de> for HeaderMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = HeaderMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderMembers<'de>, A::Error> {
                let mut members = HeaderMembers::default();
                // Members the verifier ignores, kept only to refuse their duplicates.
                let mut others: Vec<Cow<'de, str>> = Vec::new();
                let mut count = 0;
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    count += 1;
                    if count > MAX_HEADER_MEMBERS {
                        return Err(de::Error::custom(TOO_MANY));
                    }
                    let bit = match &*name {
                        "alg" => ALG,
                        "kid" => KID,
                        "typ" => TYP,
                        "crit" => CRIT,
                        other => {
                            KEY_SELECTING_MEMBERS.iter().position(|m| *m == other).map_or(0, |i| KEY_SELECTING_BITS[i])
                        }
                    };
                    let repeated = if bit == 0 { others.contains(&name) } else { members.present & bit != 0 };
                    if repeated {
                        return Err(de::Error::custom(format_args!("{DUPLICATE} `{name}`")));
                    }
                    members.present |= bit;
                    match bit {
                        ALG => members.alg = Some(map.next_value()?),
                        KID => members.kid = Some(map.next_value()?),
                        TYP => members.typ = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            if bit == 0 {
                                others.push(name);
                            }
                        }
                    }
                }
                Ok(members)
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl<'de> Visitor<'de> for MemberVisitor {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Member::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Member::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Member::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Member::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Member::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Member::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Member::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
        }
        deserializer.deserialize_any(MemberVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_header(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    /// Splits `token` and reads its header into owned values.
    fn inspect_header(token: &str) -> Result<(String, Option<String>), TokenError> {
        let mut buffer = Vec::new();
        let header = read_header(Compact::split(token)?.header, &mut buffer)?;
        Ok((header.alg.into_owned(), header.kid.map(Cow::into_owned)))
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
        assert_eq!(h, ("HS256".to_owned(), Some("k1".to_owned())));
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
            (r#"{"alg":"HS256","typ":7}"#, TokenError::WrongType),
            (r#"{"alg":"HS256","kid":7}"#, TokenError::Malformed("`kid` is not a string")),
            (r#"{"alg":["HS256"]}"#, TokenError::Malformed("the header has no `alg`")),
            (r#"{"alg":"HS256","zip":"DEF","zip":"DEF"}"#, TokenError::DuplicateMember),
            (r#"{"alg":"HS256","x5c":["MIIB"],"x5c":[]}"#, TokenError::DuplicateMember),
            (r#"{"alg":"HS256","kid":"a","x5c":["MIIB"]}"#, TokenError::ForbiddenHeader("x5c")),
        ] {
            assert_eq!(inspect_header(&token_with_header(header)).unwrap_err(), expected, "{header}");
        }
    }

    #[test]
    fn escaped_members_are_read_like_plain_ones() {
        let h = inspect_header(&token_with_header(r#"{"\u0061lg":"HS\u0032\u00356","kid":"k\"1"}"#)).unwrap();
        assert_eq!(h, ("HS256".to_owned(), Some("k\"1".to_owned())));
        let dup = token_with_header(r#"{"alg":"HS256","\u0061lg":"none"}"#);
        assert_eq!(inspect_header(&dup).unwrap_err(), TokenError::DuplicateMember);
    }

    #[test]
    fn a_header_of_many_members_is_refused_before_its_duplicates_are_sought() {
        let members: Vec<String> = (0..MAX_HEADER_MEMBERS).map(|i| format!(r#""m{i}":0"#)).collect();
        let fits = format!(r#"{{{}}}"#, members[..MAX_HEADER_MEMBERS - 1].join(",") + r#","alg":"HS256""#);
        assert!(inspect_header(&token_with_header(&fits)).is_ok());
        let over = format!(r#"{{{},"alg":"HS256"}}"#, members.join(","));
        assert_eq!(
            inspect_header(&token_with_header(&over)).unwrap_err(),
            TokenError::Malformed("the header has too many members")
        );
    }

    #[test]
    fn segments_are_split_once() {
        let jws = Compact::split("aGVhZA.cGF5.c2ln").unwrap();
        assert_eq!(
            (jws.header, jws.payload, jws.signature, jws.signing_input),
            ("aGVhZA", "cGF5", "c2ln", "aGVhZA.cGF5")
        );
        for bad in ["a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "abc"] {
            assert!(Compact::split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shape_is_checked() {
        assert!(inspect_header("a.b").is_err());
        assert!(inspect_header("a.b.c.d.e").is_err());
        assert!(inspect_header("!!!.e30.c2ln").is_err());
    }
}
