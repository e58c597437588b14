//! A token's claims, read once from the payload's JSON text without building a JSON tree: the
//! members the registered-claim checks and the [`super::principal::Principal`] need are found
//! and kept as slices of the text; everything else is only checked to be well-formed JSON.
//!
//! This is the verification path's hot spot when tokens are not cached (more live tokens than
//! the cache holds): building a `serde_json::Map` of every claim and dropping it again cost
//! about a fifth of a cold request (allocations for each name and string value, and the tree).
//! The text itself is what the principal keeps, so [`super::principal::Principal::claims`]
//! can parse it when a handler asks.
//!
//! Duplicate member names are refused (RFC 7515 §5.2, as the JOSE header's), whatever their
//! spelling: `"s\u0075b"` is `sub`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::auth_error::TokenError;

/// The message a duplicate member makes serde_json fail with (matched to tell it apart).
pub(crate) const DUPLICATE: &str = "duplicate member";

/// The members of a claims object that Rampart reads, each the raw JSON of its value.
#[derive(Debug, Default)]
pub(crate) struct Members<'a> {
    pub(crate) exp: Option<&'a RawValue>,
    pub(crate) nbf: Option<&'a RawValue>,
    pub(crate) iss: Option<&'a RawValue>,
    pub(crate) aud: Option<&'a RawValue>,
    pub(crate) sub: Option<&'a RawValue>,
    pub(crate) scope: Option<&'a RawValue>,
    pub(crate) scp: Option<&'a RawValue>,
    pub(crate) gty: Option<&'a RawValue>,
    pub(crate) cnf: Option<&'a RawValue>,
    pub(crate) client_id: Option<&'a RawValue>,
    pub(crate) azp: Option<&'a RawValue>,
    pub(crate) jti: Option<&'a RawValue>,
    /// The member the roles pointer starts at (its first reference token).
    pub(crate) roles: Option<&'a RawValue>,
}

impl<'a> Members<'a> {
    /// Reads a claims object from its JSON text; `roles_member` names the member the roles
    /// pointer starts at.
    ///
    /// # Errors
    ///
    /// [`TokenError::DuplicateMember`] when a name repeats, [`TokenError::Malformed`] when the
    /// text is not a JSON object.
    pub(crate) fn read(text: &'a str, roles_member: Option<&str>) -> Result<Self, TokenError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let members = deserializer
            .deserialize_map(MembersVisitor { roles_member })
            .and_then(|members| deserializer.end().map(|()| members))
            .map_err(|e| {
                if e.to_string().starts_with(DUPLICATE) {
                    TokenError::DuplicateMember
                } else {
                    TokenError::Malformed("the token is not a well-formed JWS")
                }
            })?;
        Ok(members)
    }
}

/// A NumericDate claim: `None` when absent, `Some(Err)` when not a non-negative number.
pub(crate) fn numeric_date(value: Option<&RawValue>) -> Option<Result<u64, ()>> {
    let number = serde_json::from_str::<serde_json::Number>(value?.get()).ok();
    Some(match number {
        None => Err(()),
        Some(number) => match number.as_u64() {
            Some(n) => Ok(n),
            None => match number.as_f64() {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "range checked")]
                Some(f) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => Ok(f.round() as u64),
                _ => Err(()),
            },
        },
    })
}

/// A string value, borrowed from the text unless it has escapes; `None` when the value is not
/// a string.
pub(crate) fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let json = raw.get();
    // A raw value is well-formed JSON: between quotes and without a backslash, a string is its
    // own text (the common case, read without a parser).
    if let Some(inner) = json.strip_prefix('"').and_then(|rest| rest.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<Text<'_>>(json).ok().map(|text| text.0)
}

/// An array of strings; `None` when the value is not one.
pub(crate) fn texts(raw: &RawValue) -> Option<Vec<Cow<'_, str>>> {
    serde_json::from_str::<Vec<Text<'_>>>(raw.get()).ok().map(|texts| texts.into_iter().map(|text| text.0).collect())
}

/// A JSON string, borrowed when it can be (member names here and in the JOSE header).
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Up to this many names, duplicates are looked for in a vector; beyond, in a hash set.
const LINEAR_NAMES: usize = 32;

struct MembersVisitor<'r> {
    roles_member: Option<&'r str>,
}

impl<'de> Visitor<'de> for MembersVisitor<'_> {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
        let mut members = Members::default();
        let mut names: Vec<Cow<'de, str>> = Vec::with_capacity(LINEAR_NAMES);
        let mut many: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let repeated = match &mut many {
                Some(set) => !set.insert(name.clone()),
                None if names.len() < LINEAR_NAMES => {
                    let repeated = names.contains(&name);
                    names.push(name.clone());
                    repeated
                }
                None => {
                    let mut set: std::collections::HashSet<_> = names.drain(..).collect();
                    let repeated = !set.insert(name.clone());
                    many = Some(set);
                    repeated
                }
            };
            if repeated {
                return Err(de::Error::custom(format_args!("{DUPLICATE} `{name}`")));
            }
            let is_roles = self.roles_member == Some(name.as_ref());
            let known = matches!(
                name.as_ref(),
                "exp" | "nbf" | "iss" | "aud" | "sub" | "scope" | "scp" | "gty" | "cnf" | "client_id" | "azp" | "jti"
            );
            if !known && !is_roles {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value: &'de RawValue = map.next_value()?;
            if is_roles {
                members.roles = Some(value);
            }
            match name.as_ref() {
                "exp" => members.exp = Some(value),
                "nbf" => members.nbf = Some(value),
                "iss" => members.iss = Some(value),
                "aud" => members.aud = Some(value),
                "sub" => members.sub = Some(value),
                "scope" => members.scope = Some(value),
                "scp" => members.scp = Some(value),
                "gty" => members.gty = Some(value),
                "cnf" => members.cnf = Some(value),
                "client_id" => members.client_id = Some(value),
                "azp" => members.azp = Some(value),
                "jti" => members.jti = Some(value),
                _ => {}
            }
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_members_read_are_slices_of_the_text() {
        let json = r#"{"sub":"alice","aud":["a","b"],"exp":1.5e9,"x":{"y":[1,2]},"roles":["admin"]}"#;
        let members = Members::read(json, Some("roles")).unwrap();
        assert_eq!(members.sub.map(RawValue::get), Some(r#""alice""#));
        assert_eq!(members.aud.map(RawValue::get), Some(r#"["a","b"]"#));
        assert_eq!(members.exp.map(RawValue::get), Some("1.5e9"));
        assert_eq!(members.roles.map(RawValue::get), Some(r#"["admin"]"#));
        assert!(members.iss.is_none());
        assert!(matches!(text(members.sub.unwrap()), Some(Cow::Borrowed("alice"))));
        assert_eq!(texts(members.aud.unwrap()).unwrap(), ["a", "b"]);
        assert_eq!(text(members.exp.unwrap()), None, "a number is not a string");
        let escaped = Members::read(r#"{"sub":"a\"b\u0063"}"#, None).unwrap();
        assert_eq!(text(escaped.sub.unwrap()).as_deref(), Some("a\"bc"));
    }

    #[test]
    fn duplicates_are_refused_however_spelled_and_however_many_members() {
        assert_eq!(Members::read(r#"{"sub":"a","sub":"b"}"#, None).unwrap_err(), TokenError::DuplicateMember);
        assert_eq!(Members::read(r#"{"sub":"a","s\u0075b":"b"}"#, None).unwrap_err(), TokenError::DuplicateMember);
        assert_eq!(Members::read(r#"{"n":1,"n":{"x":2}}"#, None).unwrap_err(), TokenError::DuplicateMember);
        let many: Vec<String> = (0..100).map(|i| format!(r#""m{i}":{i}"#)).collect();
        assert!(Members::read(&format!("{{{}}}", many.join(",")), None).is_ok());
        assert_eq!(
            Members::read(&format!(r#"{{{},"m7":0}}"#, many.join(",")), None).unwrap_err(),
            TokenError::DuplicateMember
        );
    }

    #[test]
    fn anything_but_one_json_object_is_malformed() {
        for json in [r#"["sub"]"#, r#"{"sub":"a"} {}"#, r#"{"sub":}"#, "", "null", r#"{"sub":"a""#] {
            assert!(matches!(Members::read(json, None), Err(TokenError::Malformed(_))), "{json}");
        }
    }
}
