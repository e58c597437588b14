//! Who may call an endpoint: a [`Policy`] is a constant tree of scope and role requirements,
//! evaluated against a [`Principal`]. Deny by default: a policy that cannot be evaluated (an
//! empty `all`/`any`) denies.
//!
//! # Examples
//!
//! ```
//! use rampart::authz::Policy;
//!
//! const DELETE: Policy = Policy::Any(&[Policy::Role("admin"), Policy::Scope("notes:write")]);
//! assert_eq!(DELETE.to_string(), "any(role = \"admin\", scope = \"notes:write\")");
//! ```
use std::fmt;

use crate::vocabulary::principal::Principal;

/// A security policy over a [`Principal`], built from constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Any authenticated caller.
    Authenticated,
    /// The caller was granted this scope.
    Scope(&'static str),
    /// The caller has this role.
    Role(&'static str),
    /// Every policy holds (an empty list denies).
    All(&'static [Policy]),
    /// At least one policy holds (an empty list denies).
    Any(&'static [Policy]),
}

/// A denied policy: what would have satisfied it. Scopes come first (a client can ask for them:
/// the `insufficient_scope` challenge); when no scope is missing, the roles are
/// (`insufficient_role`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Space-separated scopes the caller lacks.
    pub missing_scopes: String,
    /// Space-separated roles the caller lacks, of the first alternative that names roles.
    pub missing_roles: String,
}

impl Policy {
    /// Whether `principal` satisfies the policy.
    pub fn allows(&self, principal: &Principal) -> bool {
        match self {
            Policy::Authenticated => true,
            Policy::Scope(scope) => principal.has_scope(scope),
            Policy::Role(role) => principal.has_role(role),
            Policy::All(policies) => !policies.is_empty() && policies.iter().all(|p| p.allows(principal)),
            Policy::Any(policies) => policies.iter().any(|p| p.allows(principal)),
        }
    }

    /// Evaluates the policy.
    ///
    /// # Errors
    ///
    /// [`Denied`] with the scopes and the roles the caller lacks (for `any`, those of the first
    /// alternative that names scopes, respectively roles).
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::auth::{ClaimMapping, Principal};
    /// use rampart::authz::Policy;
    ///
    /// let claims = serde_json::json!({"sub": "ada", "scope": "notes:read"});
    /// let ada = Principal::from_claims(claims, &ClaimMapping::default()).unwrap();
    /// let denied = Policy::Role("admin").check(&ada).unwrap_err();
    /// assert_eq!((denied.missing_scopes.as_str(), denied.missing_roles.as_str()), ("", "admin"));
    /// ```
    pub fn check(&self, principal: &Principal) -> Result<(), Denied> {
        if self.allows(principal) {
            return Ok(());
        }
        let (mut scopes, mut roles) = (Vec::new(), Vec::new());
        self.missing(principal, Need::Scope, &mut scopes);
        self.missing(principal, Need::Role, &mut roles);
        Err(Denied { missing_scopes: scopes.join(" "), missing_roles: roles.join(" ") })
    }

    fn missing(&self, principal: &Principal, need: Need, out: &mut Vec<&'static str>) {
        match (self, need) {
            (Policy::Scope(scope), Need::Scope) if !principal.has_scope(scope) && !out.contains(scope) => {
                out.push(scope);
            }
            (Policy::Role(role), Need::Role) if !principal.has_role(role) && !out.contains(role) => out.push(role),
            (Policy::All(policies), _) => policies.iter().for_each(|p| p.missing(principal, need, out)),
            (Policy::Any(policies), _) => {
                if let Some(first) = policies.iter().find(|p| p.mentions(need)) {
                    first.missing(principal, need, out);
                }
            }
            _ => {}
        }
    }

    fn mentions(&self, need: Need) -> bool {
        match (self, need) {
            (Policy::Scope(_), Need::Scope) | (Policy::Role(_), Need::Role) => true,
            (Policy::All(ps) | Policy::Any(ps), _) => ps.iter().any(|p| p.mentions(need)),
            _ => false,
        }
    }

    /// Every scope the policy names, for documentation (OpenAPI security requirements).
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect(&mut out, true);
        out
    }

    /// Every role the policy names.
    pub fn roles(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect(&mut out, false);
        out
    }

    fn collect(&self, out: &mut Vec<&'static str>, scopes: bool) {
        match self {
            Policy::Scope(s) if scopes && !out.contains(s) => out.push(s),
            Policy::Role(r) if !scopes && !out.contains(r) => out.push(r),
            Policy::All(ps) | Policy::Any(ps) => ps.iter().for_each(|p| p.collect(out, scopes)),
            _ => {}
        }
    }
}

/// What [`Policy::check`] looks for in a denial.
#[derive(Debug, Clone, Copy)]
enum Need {
    Scope,
    Role,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, ps: &[Policy]| {
            write!(f, "{name}(")?;
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match self {
            Policy::Authenticated => f.write_str("authenticated"),
            Policy::Scope(s) => write!(f, "scope = {s:?}"),
            Policy::Role(r) => write!(f, "role = {r:?}"),
            Policy::All(ps) => list(f, "all", ps),
            Policy::Any(ps) => list(f, "any", ps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClaimMapping;
    use serde_json::json;

    fn principal(scope: &str, roles: &[&str]) -> Principal {
        Principal::from_claims(json!({"sub": "s", "scope": scope, "roles": roles}), &ClaimMapping::default()).unwrap()
    }

    #[test]
    fn all_of_scopes() {
        const P: Policy = Policy::All(&[Policy::Scope("a"), Policy::Scope("b")]);
        assert!(P.allows(&principal("a b", &[])));
        assert_eq!(P.check(&principal("a", &[])).unwrap_err().missing_scopes, "b");
        assert_eq!(P.check(&principal("", &[])).unwrap_err().missing_scopes, "a b");
    }

    #[test]
    fn any_of_scope_or_role() {
        const P: Policy = Policy::Any(&[Policy::Scope("a"), Policy::Role("admin")]);
        assert!(P.allows(&principal("", &["admin"])));
        assert!(P.allows(&principal("a", &[])));
        let denied = P.check(&principal("x", &["user"])).unwrap_err();
        assert_eq!((denied.missing_scopes.as_str(), denied.missing_roles.as_str()), ("a", "admin"));
    }

    #[test]
    fn a_missing_role_is_named_when_no_scope_is_missing() {
        const P: Policy = Policy::All(&[Policy::Scope("a"), Policy::Role("admin")]);
        let denied = P.check(&principal("a", &["user"])).unwrap_err();
        assert_eq!((denied.missing_scopes.as_str(), denied.missing_roles.as_str()), ("", "admin"));
    }

    #[test]
    fn empty_combinations_deny() {
        assert!(!Policy::All(&[]).allows(&principal("a", &["admin"])));
        assert!(!Policy::Any(&[]).allows(&principal("a", &["admin"])));
    }

    #[test]
    fn nested() {
        const P: Policy = Policy::Any(&[Policy::Role("admin"), Policy::All(&[Policy::Scope("w"), Policy::Scope("r")])]);
        assert!(P.allows(&principal("r w", &[])));
        assert!(!P.allows(&principal("w", &[])));
        assert_eq!(P.scopes(), ["w", "r"]);
        assert_eq!(P.roles(), ["admin"]);
    }
}
