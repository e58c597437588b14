//! Input validation with garde, before the handler runs.
//!
//! [`crate::extract::Json`] and [`crate::extract::Form`] deserialize strictly (unknown fields
//! are refused where the type says `#[serde(deny_unknown_fields)]`, duplicate fields always) and
//! then validate with `garde::Validate`; [`crate::extract::Valid`] does the same for `Query` and
//! `Path`. Failures are 422 problem+json with one entry per field, each with a JSON pointer such as
//! `#/tags/3`; malformed JSON is 400 with its line and column (never the payload); each failure is
//! an audit event. In `#[secure]`/`#[public]` handlers a body type that is not validated is a
//! compile error ([`ValidatedBody`]), unless the attribute says `validate = false`.
//!
//! Validators garde lacks, for `#[garde(custom(...))]`: [`no_control_chars`], [`safe_identifier`].
//!
//! # Examples
//!
//! ```
//! use garde::Validate;
//!
//! #[derive(serde::Deserialize, Validate)]
//! #[serde(deny_unknown_fields)]
//! struct NewNote {
//!     #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
//!     title: String,
//!     #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
//!     tags: Vec<String>,
//! }
//!
//! let note = NewNote { title: "ok".into(), tags: vec!["rust".into(), "Bad Tag".into()] };
//! let error = rampart::Error::from(note.validate().unwrap_err());
//! let rampart::Error::Validation(fields) = error else { unreachable!() };
//! assert_eq!(fields[0].pointer, "#/tags/1");
//! ```

/// A request body extractor that validates what it extracts. `#[secure]` and `#[public]` require
/// it of every `Json<...>`/`Form<...>` argument unless the attribute says `validate = false`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a validated body",
    label = "this body would reach the handler unvalidated",
    note = "use `rampart::extract::Json<T>` (or `Form<T>`) with `#[derive(garde::Validate)]` on `T`, or opt out explicitly with `validate = false` in the attribute"
)]
pub trait ValidatedBody {}

/// Refuses control characters (U+0000-U+001F, U+007F-U+009F) except tab, LF and CR.
///
/// # Errors
///
/// A garde error naming the first offending character's position.
pub fn no_control_chars(value: &str, _context: &()) -> garde::Result {
    match value.chars().position(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        None => Ok(()),
        Some(at) => Err(garde::Error::new(format!("control character at position {at}"))),
    }
}

/// Accepts 1 to 64 characters of `[A-Za-z0-9_-]`, starting with a letter.
///
/// # Errors
///
/// A garde error saying what an identifier may contain.
pub fn safe_identifier(value: &str, _context: &()) -> garde::Result {
    let mut chars = value.chars();
    let ok = (1..=64).contains(&value.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(garde::Error::new("must be 1-64 characters of [A-Za-z0-9_-], starting with a letter")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters() {
        assert!(no_control_chars("plain text\twith tab\nand newline", &()).is_ok());
        assert!(no_control_chars("bell\u{7}", &()).is_err());
        assert!(no_control_chars("nul\0", &()).is_err());
        assert!(no_control_chars("c1\u{85}", &()).is_err());
    }

    #[test]
    fn identifiers() {
        assert!(safe_identifier("note-1_a", &()).is_ok());
        for bad in ["", "1abc", "a b", "a/b", "ä", &"a".repeat(65)] {
            assert!(safe_identifier(bad, &()).is_err(), "{bad}");
        }
    }
}
