//! Spec equals enforcement: compares any OpenAPI document (a committed snapshot, one merged with
//! hand-written paths) with the contracts a router enforces.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use super::requirements::{
    API_KEY_SCHEME, BEARER_SCHEME, DPOP_SCHEME, OAUTH2_SCHEME, ROLES_EXTENSION, Requirement, Schemes, requirements,
    scopes,
};
use crate::contract::EndpointInfo;

/// One way a document disagrees with what the router enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `METHOD /path`, or `document` for document-wide problems.
    pub operation: String,
    /// What differs.
    pub problem: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.problem)
    }
}

/// Checks that `document` describes exactly the security `inventory` enforces.
///
/// For every mounted endpoint the document must have the operation, and its effective security
/// (its own `security`, or the document's root one it would inherit) must be exactly the policy's
/// alternatives, `[]` for public endpoints. Secured operations must document 401 (and 403 when
/// the policy needs a scope or a role), rate-limited ones 429 and their `x-rate-limit`. Every
/// operation in the document must be mounted, and the OAuth2 flow must list every scope.
///
/// # Errors
///
/// Every [`Mismatch`] found.
pub fn check(inventory: &[&'static EndpointInfo], document: &Value) -> Result<(), Vec<Mismatch>> {
    let mut problems = Vec::new();
    let mut report = |operation: String, problem: String| problems.push(Mismatch { operation, problem });
    let root_security = document.get("security");
    // Each scheme's alternatives are expected exactly when the document declares the scheme: an
    // `oauth2` token endpoint, DPoP (only DPoP when there is no `bearer`), API keys.
    let declared = |scheme: &str| document.pointer(&format!("/components/securitySchemes/{scheme}")).is_some();
    let oauth = declared(OAUTH2_SCHEME);
    let schemes = Schemes {
        oauth,
        bearer: declared(BEARER_SCHEME),
        dpop: declared(DPOP_SCHEME),
        api_key: declared(API_KEY_SCHEME),
    };

    let mut mounted = BTreeSet::new();
    let mut all_scopes = BTreeSet::new();
    for info in inventory {
        let name = format!("{} {}", info.method.as_str(), info.path);
        let method = info.method.as_str().to_ascii_lowercase();
        let path = crate::contract::openapi_path(info.path);
        mounted.insert((path.clone().into_owned(), method.clone()));
        let Some(operation) = document.pointer(&format!("/paths/{}/{method}", escape(&path))) else {
            report(name, "mounted but not documented".into());
            continue;
        };
        let expected: BTreeSet<Requirement> = match info.policy() {
            Some(policy) => {
                scopes(policy, &mut all_scopes);
                requirements(policy, &schemes.of(info)).into_iter().collect()
            }
            None => BTreeSet::new(),
        };
        match operation.get("security").or(root_security) {
            None if info.policy().is_some() => report(name.clone(), "documented without a security requirement".into()),
            None => report(name.clone(), "public but does not say `security: []` (it would look unspecified)".into()),
            Some(security) => match parse_security(security) {
                Ok(documented) if documented == expected => {}
                Ok(documented) => report(
                    name.clone(),
                    format!("documented security {} but enforced {}", show(&documented), show(&expected)),
                ),
                Err(problem) => report(name.clone(), problem),
            },
        }
        let enforced_roles: BTreeSet<&str> = info.policy().map(|p| p.roles().into_iter().collect()).unwrap_or_default();
        let documented_roles: BTreeSet<&str> = operation
            .get(ROLES_EXTENSION)
            .and_then(Value::as_array)
            .map(|roles| roles.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if documented_roles != enforced_roles {
            report(
                name.clone(),
                format!(
                    "{ROLES_EXTENSION} says [{}] but the policy names the roles [{}]",
                    documented_roles.iter().copied().collect::<Vec<_>>().join(", "),
                    enforced_roles.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        let responses = operation.get("responses");
        let documents = |status: &str| responses.and_then(|r| r.get(status)).is_some();
        if let Some(policy) = info.policy() {
            if !documents("401") {
                report(name.clone(), "secured but 401 is not documented".into());
            }
            if *policy != crate::authz::Policy::Authenticated && !documents("403") {
                report(name.clone(), "needs scopes or roles but 403 is not documented".into());
            }
        }
        match (info.rate, operation.get("x-rate-limit")) {
            (Some(rate), documented) => {
                if !documents("429") {
                    report(name.clone(), "rate limited but 429 is not documented".into());
                }
                let matches = documented.is_some_and(|d| {
                    d.get("limit") == Some(&rate.count.into())
                        && d.get("period_seconds") == Some(&rate.period_secs.into())
                        && d.get("per").and_then(Value::as_str) == Some(rate.key.as_str())
                });
                if !matches {
                    report(
                        name.clone(),
                        format!(
                            "x-rate-limit does not say {}/{}s per {}",
                            rate.count,
                            rate.period_secs,
                            rate.key.as_str()
                        ),
                    );
                }
            }
            (None, Some(_)) => report(name.clone(), "documents a rate limit that is not enforced".into()),
            (None, None) => {}
        }
    }

    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
                let is_operation =
                    ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str());
                if is_operation && !mounted.contains(&(path.clone(), method.clone())) {
                    report(
                        format!("{} {path}", method.to_ascii_uppercase()),
                        "documented but not mounted through the secure router".into(),
                    );
                }
            }
        }
    }

    let flow_scopes: BTreeSet<&str> = document
        .pointer(&format!("/components/securitySchemes/{OAUTH2_SCHEME}/flows/clientCredentials/scopes"))
        .and_then(Value::as_object)
        .map(|scopes| scopes.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = all_scopes.iter().copied().filter(|s| !flow_scopes.contains(s)).collect();
    if oauth && !missing.is_empty() {
        report("document".into(), format!("the OAuth2 flow does not list the scopes {}", missing.join(", ")));
    }

    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A path as one JSON pointer segment.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

fn parse_security(security: &Value) -> Result<BTreeSet<Requirement>, String> {
    let alternatives = security.as_array().ok_or("`security` is not an array")?;
    let mut out = BTreeSet::new();
    for alternative in alternatives {
        let object = alternative.as_object().ok_or("a security requirement is not an object")?;
        if object.is_empty() {
            return Err("a `{}` security requirement makes authentication optional".into());
        }
        if object.len() > 1 {
            return Err("a requirement naming several schemes at once is not what the router enforces".into());
        }
        for (scheme, needs) in object {
            let needs = needs
                .as_array()
                .ok_or("a requirement's scopes are not an array")?
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or("a scope is not a string"))
                .collect::<Result<BTreeSet<_>, _>>()?;
            out.insert((scheme.clone(), needs));
        }
    }
    Ok(out)
}

fn show(requirements: &BTreeSet<Requirement>) -> String {
    if requirements.is_empty() {
        return "[] (public)".to_owned();
    }
    let alternatives: Vec<String> = requirements
        .iter()
        .map(|(scheme, needs)| format!("{scheme}[{}]", needs.iter().cloned().collect::<Vec<_>>().join(" ")))
        .collect();
    alternatives.join(" | ")
}
