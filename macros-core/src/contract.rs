//! What an attribute declares, as plain data: the one reading of `#[secure]` and `#[public]`
//! that tools share with the compiler. `rampart review`'s source fallback calls [`contract`]
//! instead of keeping a second grammar of rates, sizes, durations and policies: a value
//! respelled (`"100/min"` → `"100 per minutes"`, `"64KiB"` → `65536`) reads the same.
//!
//! ```
//! use rampart_macros_core::{Kind, contract};
//!
//! let args = "post, path = \"/notes\", scope = \"notes:write\", rate = \"100 per minutes\"".parse().unwrap();
//! let item = "async fn create() {}".parse().unwrap();
//! let declared = contract(Kind::Secure, args, item, None).unwrap();
//! assert_eq!(declared.policy.as_deref(), Some("scope = \"notes:write\""));
//! let rate = declared.rate.unwrap();
//! assert_eq!((rate.count, rate.period_secs, rate.burst, rate.key), (100, 60, 100, "sub"));
//! ```

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::registry;
use crate::secure::Kind;
use crate::secure::model::{ResourceCheck, Spec};
use crate::secure::parse::{Args, PolicyExpr};

/// A declared rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateContract {
    /// Requests per period.
    pub count: u32,
    /// The period, in seconds.
    pub period_secs: u64,
    /// The largest burst.
    pub burst: u32,
    /// What it is counted per: `sub`, `ip`, `client` or `api_key`.
    pub key: &'static str,
}

/// Everything an attribute declares that decides who may call its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The handler's name.
    pub handler: String,
    /// The method, uppercase.
    pub method: &'static str,
    /// The route template.
    pub path: String,
    /// Why a `#[public]` endpoint is open; `None` for `#[secure]`.
    pub public_reason: Option<String>,
    /// The policy of a `#[secure]` endpoint, written as `rampart::authz::Policy` displays it
    /// (`authenticated`, `scope = "a"`, `all(scope = "a", role = "b")`).
    pub policy: Option<String>,
    /// The credentials a `#[secure]` endpoint accepts (`api_key`, `bearer`, `dpop`), sorted.
    pub accepts: Vec<&'static str>,
    /// The rate limit.
    pub rate: Option<RateContract>,
    /// The largest body, in bytes.
    pub body_limit: usize,
    /// Whether bodies are validated.
    pub validate: bool,
    /// The handler's own deadline, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `load = f`, as written without spaces.
    pub load: Option<String>,
    /// `owner = f`, as written without spaces.
    pub owner: Option<String>,
    /// `type#relation`, resolved against the registry.
    pub relation: Option<String>,
    /// The success status.
    pub status: u16,
}

/// Reads one attribute as the compiler does (same parse and checks, `rampart.toml` found from
/// `source_file` as the macro finds it).
///
/// # Errors
///
/// The attribute's compile errors, joined: such an endpoint does not compile.
pub fn contract(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
    source_file: Option<PathBuf>,
) -> Result<Contract, String> {
    let func: ItemFn = syn::parse2(item).map_err(|err| err.to_string())?;
    let (args, parse_errors) = Args::parse(kind, args);
    let registry = registry::find(source_file)?;
    let spec = Spec::new(kind, args, &func, registry.as_ref(), parse_errors)
        .map_err(|err| err.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))?;
    Ok(of_spec(&spec, func.sig.ident.to_string()))
}

fn of_spec(spec: &Spec, handler: String) -> Contract {
    let secure = spec.kind == Kind::Secure;
    let path_text = |path: &syn::Path| quote!(#path).to_string().replace(' ', "");
    let (load, owner, relation) = match &spec.resource {
        None => (None, None, None),
        Some(ResourceCheck::Owned { load, owner, .. }) => (Some(path_text(load)), Some(path_text(owner)), None),
        Some(ResourceCheck::Related { load, relation, .. }) => {
            (Some(path_text(load)), None, Some(format!("{}#{}", relation.kind, relation.relation)))
        }
        Some(ResourceCheck::Listed { relation }) => {
            (None, None, Some(format!("{}#{}", relation.kind, relation.relation)))
        }
    };
    let mut accepts = Vec::new();
    if secure {
        let accepted = spec.accepts;
        accepts.extend(
            [("api_key", accepted.api_key), ("bearer", accepted.bearer), ("dpop", accepted.dpop)]
                .into_iter()
                .filter_map(|(name, on)| on.then_some(name)),
        );
    }
    Contract {
        handler,
        method: spec.method.0.name(),
        path: spec.path.value(),
        public_reason: spec.reason.as_ref().map(syn::LitStr::value),
        policy: secure.then(|| policy_text(&spec.policy)),
        accepts,
        rate: spec.rate.as_ref().map(|rate| RateContract {
            count: rate.count,
            period_secs: rate.period_secs,
            burst: rate.burst,
            key: rate.key.spelling(),
        }),
        body_limit: spec.body_limit,
        validate: spec.validate,
        timeout_ms: spec.timeout_ms,
        load,
        owner: owner.or_else(|| spec.owner.as_ref().map(path_text)),
        relation,
        status: spec.status,
    }
}

/// The attribute's policy items as `rampart::authz::Policy`'s `Display` writes the policy the
/// expansion builds: none is `authenticated`, several are `all(...)`.
pub(crate) fn policy_text(items: &[PolicyExpr]) -> String {
    fn one(expr: &PolicyExpr) -> String {
        match expr {
            PolicyExpr::Scope(lit) => format!("scope = {:?}", lit.value()),
            PolicyExpr::Role(lit) => format!("role = {:?}", lit.value()),
            PolicyExpr::All(inner, _) => format!("all({})", inner.iter().map(one).collect::<Vec<_>>().join(", ")),
            PolicyExpr::Any(inner, _) => format!("any({})", inner.iter().map(one).collect::<Vec<_>>().join(", ")),
        }
    }
    match items {
        [] => "authenticated".to_owned(),
        [single] => one(single),
        several => format!("all({})", several.iter().map(one).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: Kind, args: &str) -> Result<Contract, String> {
        contract(kind, args.parse().unwrap(), "async fn h() {}".parse().unwrap(), None)
    }

    #[test]
    fn respellings_read_the_same() {
        let a = read(Kind::Secure, r#"get, path = "/a", scope = "x", rate = "100/min", body_limit = "64KiB""#);
        let b =
            read(Kind::Secure, r#"get, path = "/a", all(scope = "x"), rate = "100 per minutes", body_limit = 65536"#);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.rate, b.rate);
        assert_eq!(a.body_limit, b.body_limit);
        assert_eq!(a.policy.as_deref(), Some("scope = \"x\""));
        assert_eq!(b.policy.as_deref(), Some("all(scope = \"x\")"));
        assert_eq!(a.accepts, ["api_key", "bearer", "dpop"]);
    }

    #[test]
    fn a_public_endpoint_has_a_reason_and_no_policy() {
        let declared = read(Kind::Public, r#"post, path = "/hook", reason = "signed", timeout = "2s""#).unwrap();
        assert_eq!(declared.public_reason.as_deref(), Some("signed"));
        assert_eq!((declared.policy, declared.timeout_ms, declared.method), (None, Some(2000), "POST"));
        assert!(declared.accepts.is_empty());
    }

    #[test]
    fn what_does_not_compile_is_an_error() {
        let err = read(Kind::Secure, r#"get, path = "/a", rate = "10/fortnight""#).unwrap_err();
        assert!(err.contains("unknown rate unit"), "{err}");
    }
}
