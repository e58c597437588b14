//! Syntax only: attribute tokens -> [`Args`], keeping every literal and its span.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitBool, LitInt, LitStr, Token};

use crate::errors::{Errors, closest};

/// Which attribute is being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[secure]`: an authenticated, authorized endpoint.
    Secure,
    /// `#[public]`: an endpoint open to anyone, with a stated reason.
    Public,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Secure => "secure",
            Kind::Public => "public",
        }
    }

    /// Every argument key of the attribute: the methods, the shared keys, then its own.
    fn keys(self) -> impl Iterator<Item = &'static str> {
        let own: &'static [&'static str] = match self {
            Kind::Secure => &SECURE_KEYS,
            Kind::Public => &PUBLIC_KEYS,
        };
        METHODS.iter().chain(SHARED_KEYS.iter()).chain(own).copied()
    }
}

/// Keys both attributes take.
const SHARED_KEYS: [&str; 11] = [
    "path",
    "rate",
    "burst",
    "tags",
    "operation_id",
    "summary",
    "deprecated",
    "validate",
    "body_limit",
    "status",
    "timeout",
];
/// Keys only `#[secure]` takes: the policy, the rate key, the resource check, DPoP and the
/// accepted credentials.
const SECURE_KEYS: [&str; 10] =
    ["scope", "role", "any", "all", "rate_key", "owner", "load", "relation", "dpop", "auth"];
/// Keys only `#[public]` takes.
const PUBLIC_KEYS: [&str; 1] = ["reason"];

pub(crate) const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// A policy as written: `scope = "a"`, `role = "r"`, `any(...)`, `all(...)`.
#[derive(Debug, Clone)]
pub(crate) enum PolicyExpr {
    Scope(LitStr),
    Role(LitStr),
    All(Vec<PolicyExpr>, Span),
    Any(Vec<PolicyExpr>, Span),
}

/// The attribute's arguments, unchecked beyond syntax.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) methods: Vec<Ident>,
    pub(crate) path: Option<LitStr>,
    pub(crate) policy: Vec<PolicyExpr>,
    pub(crate) rate: Option<LitStr>,
    pub(crate) burst: Option<LitInt>,
    pub(crate) rate_key: Option<LitStr>,
    pub(crate) owner: Option<syn::Path>,
    pub(crate) load: Option<syn::Path>,
    pub(crate) relation: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) operation_id: Option<LitStr>,
    pub(crate) summary: Option<LitStr>,
    pub(crate) deprecated: bool,
    pub(crate) reason: Option<LitStr>,
    pub(crate) validate: Option<LitBool>,
    pub(crate) body_limit: Option<Lit>,
    pub(crate) status: Option<LitInt>,
    pub(crate) timeout: Option<LitStr>,
    pub(crate) dpop: Option<LitStr>,
    pub(crate) auth: Option<Vec<LitStr>>,
}

impl Args {
    /// Parses `tokens`, reporting every argument at fault at once: after a bad argument, parsing
    /// goes on from the next comma (as serde's derive collects its errors in a context). The
    /// arguments that parsed come back with the errors, so that the next stage checks them too.
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> (Self, Option<syn::Error>) {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        let mut errors = Errors::default();
        let parser = syn::meta::parser(|meta| {
            if let Err(error) = args.parse_one(kind, &meta, &mut seen) {
                errors.push(error);
                skip_to_next_argument(&meta)?;
            }
            Ok(())
        });
        if let Err(error) = syn::parse::Parser::parse2(parser, tokens) {
            errors.push(error);
        }
        (args, errors.into_error())
    }

    fn parse_one(&mut self, kind: Kind, meta: &ParseNestedMeta<'_>, seen: &mut Vec<String>) -> syn::Result<()> {
        let Some(ident) = meta.path.get_ident().cloned() else {
            return Err(meta.error(format!("expected an argument of #[{}]: {}", kind.name(), key_list(kind))));
        };
        let key = ident.to_string();
        if !kind.keys().any(|k| k == key) {
            return Err(unknown_key(kind, &ident));
        }
        let is_method = METHODS.contains(&key.as_str());
        if !is_method && seen.contains(&key) {
            let hint = match key.as_str() {
                "scope" => "; to require several scopes write `scope = [\"a\", \"b\"]`",
                "role" => "; to accept one of several roles write `any(role = \"a\", role = \"b\")`",
                _ => "",
            };
            return Err(syn::Error::new(ident.span(), format!("`{key}` specified more than once{hint}")));
        }
        seen.push(key.clone());
        match key.as_str() {
            _ if is_method => {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    return Err(meta.error(format!("`{key}` takes no value; write `{key}, path = \"/...\"`")));
                }
                self.methods.push(ident);
            }
            "path" => self.path = Some(string(meta, "path = \"/notes/{id}\"")?),
            "scope" => self.policy.extend(strings(meta, "scope")?.into_iter().map(PolicyExpr::Scope)),
            "role" => self.policy.extend(strings(meta, "role")?.into_iter().map(PolicyExpr::Role)),
            "any" | "all" => {
                let span = ident.span();
                let inner = nested_policy(meta)?;
                self.policy.push(if key == "any" {
                    PolicyExpr::Any(inner, span)
                } else {
                    PolicyExpr::All(inner, span)
                });
            }
            "rate" => self.rate = Some(string(meta, "rate = \"10/min\"")?),
            "burst" => self.burst = Some(integer(meta, "burst = 20")?),
            "status" => self.status = Some(integer(meta, "status = 201")?),
            "rate_key" => self.rate_key = Some(string(meta, "rate_key = \"sub\"")?),
            "owner" => self.owner = Some(meta.value()?.parse::<syn::Path>()?),
            "load" => self.load = Some(meta.value()?.parse::<syn::Path>()?),
            "relation" => self.relation = Some(string(meta, "relation = \"note#viewer\"")?),
            "tags" => self.tags = strings(meta, "tags")?,
            "operation_id" => self.operation_id = Some(string(meta, "operation_id = \"createNote\"")?),
            "summary" => self.summary = Some(string(meta, "summary = \"...\"")?),
            "reason" => self.reason = Some(string(meta, "reason = \"why this endpoint is public\"")?),
            "validate" => self.validate = Some(meta.value()?.parse::<LitBool>()?),
            "body_limit" => self.body_limit = Some(meta.value()?.parse::<Lit>()?),
            "timeout" => self.timeout = Some(string(meta, "timeout = \"5s\"")?),
            "dpop" => self.dpop = Some(string(meta, "dpop = \"required\"")?),
            "auth" => self.auth = Some(strings(meta, "auth")?),
            "deprecated" => {
                self.deprecated =
                    if meta.input.peek(Token![=]) { meta.value()?.parse::<LitBool>()?.value } else { true };
            }
            _ => return Err(unknown_key(kind, &ident)),
        }
        Ok(())
    }
}

/// Passes over what is left of a bad argument, up to the comma before the next one (a bracketed
/// or parenthesized value is one token tree).
fn skip_to_next_argument(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn key_list(kind: Kind) -> String {
    let keys: Vec<String> = kind.keys().map(|k| format!("`{k}`")).collect();
    keys.join(", ")
}

fn unknown_key(kind: Kind, ident: &Ident) -> syn::Error {
    let key = ident.to_string();
    let hint = match (kind, key.as_str()) {
        (Kind::Public, "scope" | "role" | "any" | "all" | "owner" | "rate_key" | "load" | "relation") => {
            format!("; a public endpoint has no `{key}`: use #[rampart::secure(...)] to require one")
        }
        (Kind::Secure, "reason") => "; `reason` belongs to #[rampart::public]".to_owned(),
        _ => match closest(&key, kind.keys()) {
            Some(candidate) => format!("; did you mean `{candidate}`?"),
            None => format!("; expected one of {}", key_list(kind)),
        },
    };
    syn::Error::new(ident.span(), format!("unknown argument `{key}` of #[{}]{hint}", kind.name()))
}

fn string(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    literal(meta, |lit| if let Lit::Str(lit) = lit { Some(lit) } else { None }, "a string literal", example)
}

fn integer(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitInt> {
    literal(meta, |lit| if let Lit::Int(lit) = lit { Some(lit) } else { None }, "a whole number", example)
}

/// `key = <literal>`, the literal of the kind `pick` accepts; anything else is an error saying
/// what to write (`expected {what}, as in {example}`).
fn literal<T>(meta: &ParseNestedMeta<'_>, pick: fn(Lit) -> Option<T>, what: &str, example: &str) -> syn::Result<T> {
    let expr: Expr = meta.value()?.parse()?;
    let error = || syn::Error::new_spanned(&expr, format!("expected {what}, as in `{example}`"));
    match &expr {
        Expr::Lit(ExprLit { lit, .. }) => pick(lit.clone()).ok_or_else(error),
        _ => Err(error()),
    }
}

/// `key = "a"` or `key = ["a", "b"]` (not empty).
fn strings(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Vec<LitStr>> {
    let value = meta.value()?;
    let expr: Expr = value.parse()?;
    let expected = || format!("expected a string or a list of strings, as in `{key} = [\"a\", \"b\"]`");
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(vec![lit]),
        Expr::Array(ExprArray { elems, bracket_token, .. }) => {
            if elems.is_empty() {
                return Err(syn::Error::new(bracket_token.span.join(), format!("`{key}` needs at least one value")));
            }
            elems
                .into_iter()
                .map(|e| match e {
                    Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit),
                    other => Err(syn::Error::new_spanned(other, expected())),
                })
                .collect()
        }
        other => Err(syn::Error::new_spanned(other, expected())),
    }
}

/// One literal as itself; several as `all(...)` of them.
fn all_of(mut literals: Vec<LitStr>, make: fn(LitStr) -> PolicyExpr) -> PolicyExpr {
    if literals.len() == 1 {
        return make(literals.remove(0));
    }
    let span = literals[0].span();
    PolicyExpr::All(literals.into_iter().map(make).collect(), span)
}

fn nested_policy(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<PolicyExpr>> {
    let content;
    let parens = syn::parenthesized!(content in meta.input);
    if content.is_empty() {
        return Err(syn::Error::new(
            parens.span.join(),
            "an empty combination would deny everyone; list at least one `scope = ...` or `role = ...`",
        ));
    }
    let content: TokenStream = content.parse()?;
    let mut inner = Vec::new();
    let parser = syn::meta::parser(|nested| {
        let Some(ident) = nested.path.get_ident().cloned() else {
            return Err(nested.error("expected `scope = ...`, `role = ...`, `any(...)` or `all(...)`"));
        };
        match ident.to_string().as_str() {
            // A list always means "all of these", also inside `any(...)`.
            "scope" => inner.push(all_of(strings(&nested, "scope")?, PolicyExpr::Scope)),
            "role" => inner.push(all_of(strings(&nested, "role")?, PolicyExpr::Role)),
            "any" => inner.push(PolicyExpr::Any(nested_policy(&nested)?, ident.span())),
            "all" => inner.push(PolicyExpr::All(nested_policy(&nested)?, ident.span())),
            other => {
                let hint = closest(other, ["scope", "role", "any", "all"])
                    .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
                return Err(syn::Error::new(
                    ident.span(),
                    format!("`{other}` cannot appear in a policy; expected `scope`, `role`, `any` or `all`{hint}"),
                ));
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, content)?;
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments when all parsed, else the errors.
    fn strict(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        match Args::parse(kind, tokens) {
            (args, None) => Ok(args),
            (_, Some(error)) => Err(error),
        }
    }
    use quote::quote;

    #[test]
    fn parses_a_full_secure_attribute() {
        let args = strict(
            Kind::Secure,
            quote!(
                post,
                path = "/notes/{id}",
                scope = ["a", "b"],
                any(role = "admin", scope = "c"),
                rate = "10/min",
                burst = 5,
                tags = ["notes"],
                deprecated
            ),
        )
        .unwrap();
        assert_eq!(args.methods.len(), 1);
        assert_eq!(args.path.unwrap().value(), "/notes/{id}");
        assert_eq!(args.policy.len(), 3);
        assert_eq!(args.burst.unwrap().base10_digits(), "5");
        assert!(args.deprecated);
    }

    #[test]
    fn a_list_inside_any_stays_all_of() {
        let args = strict(Kind::Secure, quote!(get, path = "/x", any(role = "admin", scope = ["a", "b"]))).unwrap();
        let [PolicyExpr::Any(inner, _)] = args.policy.as_slice() else { panic!("{:?}", args.policy) };
        assert!(matches!(inner.as_slice(), [PolicyExpr::Role(_), PolicyExpr::All(list, _)] if list.len() == 2));
    }

    #[test]
    fn errors_name_the_problem() {
        for (tokens, needle) in [
            (quote!(get, scpoe = "a"), "did you mean `scope`?"),
            (quote!(get, scope = "a", scope = "b"), "`scope` specified more than once"),
            (quote!(get, scope = []), "at least one value"),
            (quote!(get, scope = 3), "expected a string or a list of strings"),
            (quote!(get, any(scop = "a")), "did you mean `scope`?"),
            (quote!(get = 1), "takes no value"),
        ] {
            let err = strict(Kind::Secure, tokens).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let err = strict(Kind::Public, quote!(get, scope = "a")).unwrap_err().to_string();
        assert!(err.contains("a public endpoint has no `scope`"), "{err}");
    }

    #[test]
    fn every_bad_argument_is_reported_at_once() {
        let err = strict(
            Kind::Secure,
            quote!(get, scpoe = "a", path = 3, any(scop = "b"), rate = "10/min", tags = [1], burst = "x"),
        )
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        for (message, needle) in messages.iter().zip([
            "did you mean `scope`?",
            "expected a string literal",
            "did you mean `scope`?",
            "expected a string or a list of strings",
            "expected a whole number, as in `burst = 20`",
        ]) {
            assert!(message.contains(needle), "{message}");
        }
        let err = strict(Kind::Public, quote!(get, scope = "a")).unwrap_err().to_string();
        assert!(err.contains("a public endpoint has no `scope`"), "{err}");
    }
}
