//! A [`Policy`] as OpenAPI security requirements: the policy in disjunctive normal form, one
//! requirement object per alternative.
//!
//! Every alternative becomes a requirement per scheme the service accepts ([`Schemes`]), listing
//! the scopes the credential must carry: `bearer` (unless DPoP is required), `dpop` (DPoP-bound
//! tokens, RFC 9449), `apiKey` (`X-API-Key`, when keys are configured). Roles are not scopes: an
//! alternative's roles are left out of its lists and the operation names them in
//! `x-rampart-roles` (and the whole policy in `x-rampart-policy`). When the service has an OAuth2
//! token endpoint, alternatives without roles are also offered as an `oauth2` requirement with the
//! same scopes, since tokens from the client-credentials flow carry scopes but no roles.

use std::collections::BTreeSet;

use crate::authz::Policy;

/// The name of the HTTP bearer security scheme in generated documents.
pub const BEARER_SCHEME: &str = "bearer";
/// The name of the OAuth2 client-credentials security scheme in generated documents.
pub const OAUTH2_SCHEME: &str = "oauth2";
/// The name of the DPoP (RFC 9449) security scheme in generated documents.
pub const DPOP_SCHEME: &str = "dpop";
/// The name of the API-key security scheme in generated documents.
pub const API_KEY_SCHEME: &str = "apiKey";

/// The credentials a service (or one operation) accepts, as the document describes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schemes {
    /// An OAuth2 token endpoint issues tokens (`oauth2` requirements, beside `bearer`).
    pub oauth: bool,
    /// Plain bearer tokens (`bearer` requirements).
    pub bearer: bool,
    /// DPoP-bound tokens (`dpop` requirements).
    pub dpop: bool,
    /// API keys (`apiKey` requirements).
    pub api_key: bool,
}

impl Schemes {
    /// Bearer tokens only.
    pub const BEARER: Schemes = Schemes { oauth: false, bearer: true, dpop: false, api_key: false };

    /// The schemes of a service: tokens as `dpop` says (bearer unless DPoP is required, DPoP-bound
    /// ones unless off), API keys when configured, the OAuth2 flow when it has a token endpoint.
    pub fn service(oauth: bool, dpop: crate::auth::DpopMode, api_key: bool) -> Schemes {
        use crate::auth::DpopMode;
        Schemes { oauth, bearer: dpop != DpopMode::Required, dpop: dpop != DpopMode::Off, api_key }
    }

    /// The schemes of one endpoint: those of the service it also accepts (`auth = [...]`,
    /// `dpop = "required"`). When it accepts none of them (a configuration the router refuses
    /// to serve), its own, so that a secured operation never looks open.
    pub fn of(&self, info: &crate::contract::EndpointInfo) -> Schemes {
        let accepts = info.accepts;
        let both = Schemes {
            oauth: self.oauth && accepts.bearer,
            bearer: self.bearer && accepts.bearer,
            dpop: self.dpop && accepts.dpop,
            api_key: self.api_key && accepts.api_key,
        };
        if both.bearer || both.dpop || both.api_key {
            both
        } else {
            Schemes { oauth: false, bearer: accepts.bearer, dpop: accepts.dpop, api_key: accepts.api_key }
        }
    }
}
/// The operation member that lists the roles a policy names.
pub const ROLES_EXTENSION: &str = "x-rampart-roles";

/// One security requirement object: a scheme and the scopes it needs.
pub type Requirement = (String, BTreeSet<String>);

/// What a policy needs, as alternatives of requirement sets, in the `schemes` the service accepts.
///
/// # Examples
///
/// ```
/// use rampart::authz::Policy;
/// use rampart::openapi::{Schemes, requirements};
///
/// const DELETE: Policy = Policy::Any(&[Policy::Role("admin"), Policy::Scope("notes:write")]);
/// let listed = |oauth| -> Vec<String> {
///     requirements(&DELETE, &Schemes { oauth, ..Schemes::BEARER })
///         .into_iter()
///         .map(|(scheme, needs)| format!("{scheme}: {}", needs.into_iter().collect::<Vec<_>>().join(" ")))
///         .collect()
/// };
/// // The role alternative needs a bearer token and no scope; the role is in `x-rampart-roles`.
/// assert_eq!(listed(true), ["bearer: ", "bearer: notes:write", "oauth2: notes:write"]);
/// assert_eq!(listed(false), ["bearer: ", "bearer: notes:write"]);
/// ```
pub fn requirements(policy: &Policy, schemes: &Schemes) -> Vec<Requirement> {
    let mut out: Vec<Requirement> = Vec::new();
    for alternative in alternatives(policy) {
        let has_role = alternative.iter().any(|need| matches!(need, Need::Role(_)));
        let scopes: BTreeSet<String> = alternative
            .into_iter()
            .filter_map(|need| match need {
                Need::Scope(scope) => Some(scope.to_owned()),
                Need::Role(_) => None,
            })
            .collect();
        let mut push = |scheme: &str| {
            let requirement = (scheme.to_owned(), scopes.clone());
            if !out.contains(&requirement) {
                out.push(requirement);
            }
        };
        if schemes.bearer {
            push(BEARER_SCHEME);
        }
        if schemes.dpop {
            push(DPOP_SCHEME);
        }
        if schemes.oauth && !has_role {
            push(OAUTH2_SCHEME);
        }
        if schemes.api_key {
            push(API_KEY_SCHEME);
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

/// One thing an alternative needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Scope(&'static str),
    Role(&'static str),
}

/// The policy in disjunctive normal form: any of these sets of needs satisfies it. An empty list
/// means nothing satisfies it (an empty `all`/`any` denies).
fn alternatives(policy: &Policy) -> Vec<BTreeSet<Need>> {
    let mut out = match policy {
        Policy::Authenticated => vec![BTreeSet::new()],
        Policy::Scope(scope) => vec![BTreeSet::from([Need::Scope(scope)])],
        Policy::Role(role) => vec![BTreeSet::from([Need::Role(role)])],
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
    let mut minimal: Vec<BTreeSet<Need>> = Vec::new();
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
        requirements(policy, &Schemes { oauth: true, ..Schemes::BEARER })
            .into_iter()
            .map(|(scheme, needs)| format!("{scheme}[{}]", needs.into_iter().collect::<Vec<_>>().join(",")))
            .collect()
    }

    #[test]
    fn single_scope_is_offered_to_both_schemes() {
        assert_eq!(listed(&Policy::Scope("a")), ["bearer[a]", "oauth2[a]"]);
        assert_eq!(requirements(&Policy::Scope("a"), &Schemes::BEARER).len(), 1);
    }

    #[test]
    fn dpop_and_api_keys_are_alternatives_and_required_dpop_replaces_bearer() {
        use crate::auth::DpopMode;
        let all = Schemes::service(false, DpopMode::Allowed, true);
        let listed = |schemes: &Schemes| -> Vec<String> {
            requirements(&Policy::Scope("a"), schemes).into_iter().map(|(scheme, _)| scheme).collect()
        };
        assert_eq!(listed(&all), ["bearer", "dpop", "apiKey"]);
        assert_eq!(listed(&Schemes::service(false, DpopMode::Required, true)), ["dpop", "apiKey"]);
        assert_eq!(listed(&Schemes::service(true, DpopMode::Off, false)), ["bearer", "oauth2"]);
    }

    #[test]
    fn all_multiplies_out_over_any_and_roles_stay_out_of_the_lists() {
        const P: Policy = Policy::All(&[Policy::Scope("a"), Policy::Any(&[Policy::Scope("b"), Policy::Role("r")])]);
        assert_eq!(listed(&P), ["bearer[a,b]", "oauth2[a,b]", "bearer[a]"]);
    }

    #[test]
    fn a_role_only_policy_needs_a_bearer_token_and_no_scope() {
        assert_eq!(listed(&Policy::Role("admin")), ["bearer[]"]);
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
