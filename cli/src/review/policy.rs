//! A policy as `rampart review` compares it: the attribute's policy items read back into
//! alternatives (disjunctive normal form, as the runtime's OpenAPI requirements are), so that
//! `scope = "a"` -> `scope = ["a", "b"]` is seen as a tightening and `any(a, b)` -> `any(a)` too,
//! whatever the text.

use std::collections::BTreeSet;

use syn::punctuated::Punctuated;
use syn::{Expr, Lit, Meta, Token};

/// One thing an alternative needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Scope(String),
    Role(String),
}

/// The alternatives of a policy: any one of these sets of needs satisfies it.
type Alternatives = Vec<BTreeSet<Need>>;

/// How the policy changed from `before` to `after` (each the attribute's policy items, all of
/// which must hold; none: any authenticated caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Someone the old policy refused is let in.
    Loosened,
    /// Only fewer callers are let in.
    Tightened,
    /// Written differently, the same callers.
    Same,
}

/// Compares two policies; `None` when an item cannot be read (then the text decides).
pub(super) fn compare(before: &[String], after: &[String]) -> Option<Change> {
    let (before, after) = (alternatives(before)?, alternatives(after)?);
    // An alternative is covered when satisfying it satisfies one of the other side's.
    let covered = |alternative: &BTreeSet<Need>, by: &Alternatives| by.iter().any(|other| other.is_subset(alternative));
    if after.iter().any(|alternative| !covered(alternative, &before)) {
        Some(Change::Loosened)
    } else if before.iter().any(|alternative| !covered(alternative, &after)) {
        Some(Change::Tightened)
    } else {
        Some(Change::Same)
    }
}

fn alternatives(items: &[String]) -> Option<Alternatives> {
    let mut all = vec![BTreeSet::new()];
    for item in items {
        let meta: Meta = syn::parse_str(item).ok()?;
        all = product(&all, &of_meta(&meta)?);
    }
    Some(all)
}

/// Every union of one alternative of `left` and one of `right` (`all` of two policies).
fn product(left: &Alternatives, right: &Alternatives) -> Alternatives {
    left.iter().flat_map(|l| right.iter().map(move |r| l.union(r).cloned().collect())).collect()
}

fn of_meta(meta: &Meta) -> Option<Alternatives> {
    match meta {
        Meta::NameValue(pair) => {
            let make: fn(String) -> Need = if pair.path.is_ident("scope") {
                Need::Scope
            } else if pair.path.is_ident("role") {
                Need::Role
            } else {
                return None;
            };
            // `scope = ["a", "b"]` needs both.
            let needs: BTreeSet<Need> = match &pair.value {
                Expr::Array(array) => array.elems.iter().map(|e| string(e).map(make)).collect::<Option<_>>()?,
                other => BTreeSet::from([make(string(other)?)]),
            };
            Some(vec![needs])
        }
        Meta::List(list) => {
            let inner = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok()?;
            let parts: Vec<Alternatives> = inner.iter().map(of_meta).collect::<Option<_>>()?;
            if list.path.is_ident("any") {
                Some(parts.into_iter().flatten().collect())
            } else if list.path.is_ident("all") {
                Some(parts.iter().fold(vec![BTreeSet::new()], |acc, part| product(&acc, part)))
            } else {
                None
            }
        }
        Meta::Path(_) => None,
    }
}

fn string(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => Some(text.value()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: &[&str], after: &[&str]) -> Option<Change> {
        let owned = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
        compare(&owned(before), &owned(after))
    }

    #[test]
    fn a_change_is_judged_by_who_it_lets_in() {
        use Change::*;
        assert_eq!(change(&[r#"scope = "a""#], &[r#"scope = ["a", "b"]"#]), Some(Tightened));
        assert_eq!(change(&[r#"scope = ["a", "b"]"#], &[r#"scope = "a""#]), Some(Loosened));
        assert_eq!(change(&[r#"any(scope = "a", scope = "b")"#], &[r#"any(scope = "a")"#]), Some(Tightened));
        assert_eq!(change(&[r#"all(scope = "a", role = "r")"#], &[r#"any(scope = "a", role = "r")"#]), Some(Loosened));
        assert_eq!(change(&[r#"scope = "a""#, r#"role = "r""#], &[r#"all(role = "r", scope = "a")"#]), Some(Same));
        assert_eq!(change(&[r#"scope = "a""#], &[]), Some(Loosened));
        assert_eq!(change(&[], &[r#"role = "admin""#]), Some(Tightened));
        assert_eq!(change(&[r#"scope = "a""#], &[r#"scope = "b""#]), Some(Loosened));
        assert_eq!(change(&[r#"mystery(scope = "a")"#], &[]), None);
    }
}
