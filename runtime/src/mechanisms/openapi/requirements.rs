//! A [`Policy`] as OpenAPI security requirements: the policy in disjunctive normal form, one
//! requirement object per alternative.
//!
//! Every alternative becomes a `bearer` requirement listing what the token needs: scope names as
//! they are, roles as `role:NAME` (OpenAPI 3.1 lets an HTTP scheme's requirement list roles).
//! Alternatives without roles are also offered as an `oauth2` requirement with the same scopes,
//! since tokens from the client-credentials flow carry scopes but no roles.

use std::collections::BTreeSet;

use crate::authz::Policy;

/// The name of the HTTP bearer security scheme in generated documents.
pub const BEARER_SCHEME: &str = "bearer";
/// The name of the OAuth2 client-credentials security scheme in generated documents.
pub const OAUTH2_SCHEME: &str = "oauth2";
/// How a required role is written in a `bearer` requirement's list.
pub const ROLE_PREFIX: &str = "role:";

/// One security requirement object: a scheme and the scopes (and roles) it needs.
pub type Requirement = (String, BTreeSet<String>);

/// What a policy needs, as alternatives of requirement sets.
///
/// # Examples
///
/// ```
/// use rampart::authz::Policy;
/// use rampart::openapi::requirements;
///
/// const DELETE: Policy = Policy::Any(&[Policy::Role("admin"), Policy::Scope("notes:write")]);
/// let listed: Vec<String> = requirements(&DELETE)
///     .into_iter()
///     .map(|(scheme, needs)| format!("{scheme}: {}", needs.into_iter().collect::<Vec<_>>().join(" ")))
///     .collect();
/// assert_eq!(listed, ["bearer: role:admin", "bearer: notes:write", "oauth2: notes:write"]);
/// ```
pub fn requirements(policy: &Policy) -> Vec<Requirement> {
    let mut out = Vec::new();
    for alternative in alternatives(policy) {
        let has_role = alternative.iter().any(|need| need.starts_with(ROLE_PREFIX));
        out.push((BEARER_SCHEME.to_owned(), alternative.clone()));
        if !has_role {
            out.push((OAUTH2_SCHEME.to_owned(), alternative));
        }
    }
    out
}

/// Every scope a policy names.
pub fn scopes(policy: &Policy, out: &mut BTreeSet<&'static str>) {
    match policy {
        Policy::Scope(scope) => {
            out.insert(scope);
        }
        Policy::All(inner) | Policy::Any(inner) => inner.iter().for_each(|p| scopes(p, out)),
        Policy::Authenticated | Policy::Role(_) => {}
    }
}

/// The policy in disjunctive normal form: any of these sets of needs satisfies it. An empty list
/// means nothing satisfies it (an empty `all`/`any` denies).
fn alternatives(policy: &Policy) -> Vec<BTreeSet<String>> {
    let mut out = match policy {
        Policy::Authenticated => vec![BTreeSet::new()],
        Policy::Scope(scope) => vec![BTreeSet::from([(*scope).to_owned()])],
        Policy::Role(role) => vec![BTreeSet::from([format!("{ROLE_PREFIX}{role}")])],
        Policy::Any(inner) => inner.iter().flat_map(alternatives).collect(),
        Policy::All([]) => Vec::new(),
        Policy::All(inner) => inner.iter().map(alternatives).fold(vec![BTreeSet::new()], |acc, next| {
            acc.iter()
                .flat_map(|left| next.iter().map(move |right| left.union(right).cloned().collect::<BTreeSet<_>>()))
                .collect()
        }),
    };
    // A superset alternative adds nothing: drop it, and duplicates.
    out.sort_by_key(BTreeSet::len);
    let mut minimal: Vec<BTreeSet<String>> = Vec::new();
    for alternative in out {
        if !minimal.iter().any(|kept| kept.is_subset(&alternative)) {
            minimal.push(alternative);
        }
    }
    minimal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(policy: &Policy) -> Vec<String> {
        requirements(policy)
            .into_iter()
            .map(|(scheme, needs)| format!("{scheme}[{}]", needs.into_iter().collect::<Vec<_>>().join(",")))
            .collect()
    }

    #[test]
    fn single_scope_is_offered_to_both_schemes() {
        assert_eq!(listed(&Policy::Scope("a")), ["bearer[a]", "oauth2[a]"]);
    }

    #[test]
    fn all_multiplies_out_over_any() {
        const P: Policy = Policy::All(&[Policy::Scope("a"), Policy::Any(&[Policy::Scope("b"), Policy::Role("r")])]);
        assert_eq!(listed(&P), ["bearer[a,b]", "oauth2[a,b]", "bearer[a,role:r]"]);
    }

    #[test]
    fn authenticated_needs_no_scope() {
        assert_eq!(listed(&Policy::Authenticated), ["bearer[]", "oauth2[]"]);
    }

    #[test]
    fn empty_lists_deny_everyone() {
        assert!(listed(&Policy::All(&[])).is_empty());
        assert!(listed(&Policy::Any(&[])).is_empty());
    }

    #[test]
    fn redundant_alternatives_are_dropped() {
        const P: Policy = Policy::Any(&[Policy::Scope("a"), Policy::All(&[Policy::Scope("a"), Policy::Scope("b")])]);
        assert_eq!(listed(&P), ["bearer[a]", "oauth2[a]"]);
    }
}
