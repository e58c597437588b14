//! Meaning and checks: [`Args`] + the handler's signature -> [`Spec`], every error collected.

use proc_macro2::Span;
use syn::{FnArg, GenericArgument, Ident, ItemFn, LitStr, PathArguments, Type};

use super::choices::{Accepted, Credential, HttpMethod, RateKey};
use super::parse::{Args, Kind, METHODS, PolicyExpr};
use crate::errors::{Errors, closest};
use crate::rate::parse_rate;
use crate::registry::{Registry, ResolvedRelation};
use crate::route_path::path_params;

/// A checked rate limit.
pub(crate) struct RateSpec {
    pub(crate) count: u32,
    pub(crate) period_secs: u64,
    pub(crate) burst: u32,
    pub(crate) key: RateKey,
}

/// The resource check a route declares: a loaded resource (`load = f` with `owner = g` or
/// `relation = "..."`, handed to a `Checked<R>` argument), or a list's visibility (`relation`
/// alone, handed to a `Visibility` argument).
pub(crate) enum ResourceCheck {
    Owned { load: syn::Path, owner: syn::Path, resource: Type },
    Related { load: syn::Path, relation: ResolvedRelation, resource: Type },
    Listed { relation: ResolvedRelation },
}

/// Everything the expansion needs, checked.
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    /// The method and where the attribute names it.
    pub(crate) method: (HttpMethod, Span),
    pub(crate) path: LitStr,
    pub(crate) policy: Vec<PolicyExpr>,
    pub(crate) reason: Option<LitStr>,
    pub(crate) rate: Option<RateSpec>,
    pub(crate) owner: Option<syn::Path>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) operation_id: String,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) deprecated: bool,
    pub(crate) arg_types: Vec<Type>,
    /// The body limit in bytes.
    pub(crate) body_limit: usize,
    /// Whether body extractors must validate (`validate = false` opts out).
    pub(crate) validate: bool,
    /// How the route's resource is checked, when it declares one.
    pub(crate) resource: Option<ResourceCheck>,
    pub(crate) registry_file: Option<String>,
    /// The registry the attribute was checked against, for the endpoint's contract (the lockfile).
    pub(crate) registry: Option<Registry>,
    /// The descriptions `rampart.toml` gives the scopes the policy names, for the document.
    pub(crate) scope_descriptions: Vec<(String, String)>,
    /// The success status (200 unless `status = ...`).
    pub(crate) status: u16,
    /// The handler deadline in milliseconds (`timeout = "5s"`), when the route sets its own.
    pub(crate) timeout_ms: Option<u64>,
    /// The credentials it accepts (`auth = [...]`; `dpop = "required"` is DPoP only).
    pub(crate) accepts: Accepted,
    /// `T` of the first `Json<T>` in the return type: the success response's body.
    pub(crate) response_body: Option<Type>,
    /// The handler's return type, when it can be named in the expansion (no `impl Trait`): it may
    /// document its own responses (`rampart::openapi::DescribeResponse`).
    pub(crate) return_type: Option<Type>,
}

/// The framework's default body limit: 64 KiB.
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The largest body limit an attribute may set: 64 MiB.
const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// `body_limit = 1048576` or `body_limit = "1MiB"` (units B, KB, KiB, MB, MiB).
fn parse_size(lit: &syn::Lit) -> Result<usize, String> {
    let bytes = match lit {
        syn::Lit::Int(int) => int.base10_parse::<usize>().map_err(|_| "expected a number of bytes".to_owned())?,
        syn::Lit::Str(text) => {
            let text = text.value();
            let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: usize =
                number.parse().map_err(|_| format!("`{text}` is not a size; write it as `64KiB` or `1MiB`"))?;
            let factor = match unit.trim() {
                "" | "B" => 1,
                "KB" => 1000,
                "KiB" => 1024,
                "MB" => 1_000_000,
                "MiB" => 1024 * 1024,
                other => return Err(format!("unknown size unit `{other}`; expected B, KB, KiB, MB or MiB")),
            };
            number.checked_mul(factor).ok_or_else(|| "the body limit is too large".to_owned())?
        }
        _ => return Err("expected a size, as in `body_limit = \"1MiB\"`".into()),
    };
    if bytes == 0 {
        return Err("a body limit of 0 refuses every body; remove `body_limit` to keep the 64 KiB default".into());
    }
    if bytes > MAX_BODY_LIMIT {
        return Err("a body limit over 64 MiB invites memory exhaustion; stream large uploads instead".into());
    }
    Ok(bytes)
}

/// The longest handler deadline an attribute may set: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// `timeout = "5s"`, `"500ms"` or `"2min"`: milliseconds, from 1 ms to one hour.
fn parse_timeout(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration; write it as `500ms`, `5s` or `2min`"))?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "" => return Err(format!("`{text}` has no unit; write `{text}s` (units ms, s, min)")),
        other => return Err(format!("unknown duration unit `{other}`; expected ms, s or min")),
    };
    match number.checked_mul(factor) {
        Some(0) => Err("a timeout of 0 fails every request; remove `timeout` to keep the service's default".into()),
        Some(ms) if ms <= MAX_TIMEOUT_MS => Ok(ms),
        _ => Err("a handler timeout over one hour holds connections and memory; move the work to a job".into()),
    }
}

impl Spec {
    pub(crate) fn new(
        kind: Kind,
        args: Args,
        func: &ItemFn,
        registry: Option<&Registry>,
        parse_errors: Option<syn::Error>,
    ) -> syn::Result<Self> {
        // The parse stage's errors come first; what parsed is checked on.
        let mut errors = Errors::after(parse_errors);
        let sig = &func.sig;

        if sig.asyncness.is_none() {
            errors.spanned(sig.fn_token, format!("#[{}] handlers must be `async fn`", kind.name()));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.spanned(&sig.generics, "a handler cannot be generic: axum needs one concrete type per route");
        }
        if let Some(variadic) = &sig.variadic {
            errors.spanned(variadic, "a handler cannot be variadic");
        }
        for attr in &func.attrs {
            let last = attr.path().segments.last().map(|s| s.ident.to_string());
            if matches!(last.as_deref(), Some("secure" | "public")) {
                errors.spanned(
                    attr,
                    "an endpoint is either #[secure] or #[public], not both: keep the one that states its contract",
                );
            }
        }

        let mut arg_types = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver) => errors.spanned(receiver, "a handler cannot take `self`"),
                FnArg::Typed(typed) => {
                    if let Type::ImplTrait(_) = *typed.ty {
                        errors.spanned(&typed.ty, "a handler argument needs a concrete extractor type");
                    }
                    arg_types.push((*typed.ty).clone());
                }
            }
        }

        let method = match args.methods.as_slice() {
            [one] => HttpMethod::from_key(&one.to_string()).map(|method| (method, one.span())),
            [] => {
                errors.missing(format!("#[{}] needs an HTTP method: add one of {}", kind.name(), METHODS.join(", ")));
                None
            }
            [first, second, ..] => {
                errors.spanned(second, format!("an endpoint has one method; `{first}` is already given"));
                None
            }
        };

        let mut params = Vec::new();
        match &args.path {
            None => errors.missing(format!("#[{}] needs the route: add `path = \"/...\"`", kind.name())),
            Some(path) => match path_params(&path.value()) {
                Ok(found) => params = found,
                Err(message) => errors.spanned(path, message),
            },
        }
        if let Some(path) = &args.path {
            check_path_extractor(&params, path, &arg_types, &mut errors);
        }
        if kind == Kind::Public {
            for ty in arg_types.iter().filter(|ty| authenticating_extractor(ty).is_some()) {
                let name = authenticating_extractor(ty).unwrap_or_default();
                errors.spanned(
                    ty,
                    format!(
                        "a #[public] endpoint is documented as open to anyone, but `{name}` authenticates the caller: \
                         use #[rampart::secure(...)] to require credentials, or take `Option<Principal>` to read them when given"
                    ),
                );
            }
        }

        for expr in &args.policy {
            check_policy(expr, registry, &mut errors);
        }
        let scope_descriptions = registry.map(|r| described_scopes(&args.policy, r)).unwrap_or_default();

        let mut reason = None;
        if kind == Kind::Public {
            match &args.reason {
                None => errors.missing("#[public] needs `reason = \"...\"` saying why this endpoint is open to anyone"),
                Some(lit) if lit.value().trim().is_empty() => {
                    errors.spanned(lit, "the reason must say why this endpoint is public; it cannot be empty");
                }
                Some(lit) => reason = Some(lit.clone()),
            }
        }

        let rate = rate_spec(kind, &args, &mut errors);

        let resource = resource_check(&args, &arg_types, registry, &mut errors);
        check_body_is_last(&arg_types, &mut errors);
        let body_limit = match &args.body_limit {
            None => DEFAULT_BODY_LIMIT,
            Some(lit) => match parse_size(lit) {
                Ok(bytes) => bytes,
                Err(message) => {
                    errors.spanned(lit, message);
                    DEFAULT_BODY_LIMIT
                }
            },
        };
        if let Some(flag) = &args.validate
            && flag.value
        {
            errors.spanned(flag, "`validate = true` is the default; remove it (only `validate = false` opts out)");
        }

        let status = match &args.status {
            None => 200,
            Some(lit) => match lit.base10_parse::<u16>() {
                Ok(code @ 200..=299) => code,
                _ => {
                    errors.spanned(lit, "`status` names the success response: a 2xx code such as 201 or 204");
                    200
                }
            },
        };

        let dpop_required = match &args.dpop {
            None => false,
            Some(lit) if lit.value() == "required" => true,
            Some(lit) => {
                errors.spanned(
                    lit,
                    "`dpop` takes \"required\": the route then accepts only DPoP-bound tokens with their proofs \
                     (RFC 9449); without it, the route follows the service's RAMPART_DPOP",
                );
                false
            }
        };
        let accepts = match (&args.auth, &args.dpop) {
            (None, _) if dpop_required => Accepted::DPOP,
            (None, _) => Accepted::ANY,
            (Some(_), Some(lit)) => {
                errors.spanned(
                    lit,
                    "`dpop = \"required\"` and `auth` both say which credentials the route accepts: keep \
                     `auth = [\"dpop\"]` alone",
                );
                Accepted::ANY
            }
            (Some(names), None) => accepted(names, &mut errors),
        };
        let timeout_ms = args.timeout.as_ref().and_then(|lit| match parse_timeout(&lit.value()) {
            Ok(ms) => Some(ms),
            Err(message) => {
                errors.spanned(lit, message);
                None
            }
        });

        let (doc_summary, doc_description) = doc_comment(func);
        let summary = args.summary.as_ref().map(LitStr::value).or(doc_summary);

        errors.finish()?;
        let (Some(method), Some(path)) = (method, args.path) else {
            return Err(syn::Error::new(Span::call_site(), "missing method or path"));
        };
        Ok(Spec {
            kind,
            method,
            path,
            policy: args.policy,
            reason,
            rate,
            owner: args.owner.clone(),
            tags: args.tags,
            operation_id: args.operation_id.map_or_else(|| sig.ident.to_string(), |l| l.value()),
            summary,
            description: doc_description,
            deprecated: args.deprecated || func.attrs.iter().any(|a| a.path().is_ident("deprecated")),
            arg_types,
            resource,
            body_limit,
            validate: args.validate.is_none(),
            registry_file: registry.map(|r| r.file.display().to_string()),
            registry: registry.cloned(),
            scope_descriptions,
            status,
            timeout_ms,
            accepts,
            response_body: match &sig.output {
                syn::ReturnType::Default => None,
                syn::ReturnType::Type(_, ty) => json_body(ty),
            },
            return_type: match &sig.output {
                syn::ReturnType::Type(_, ty) if !mentions_impl(quote::quote!(#ty)) => Some((**ty).clone()),
                _ => None,
            },
        })
    }
}

/// The credentials `auth = [...]` names; an unknown or repeated one is reported.
fn accepted(names: &[LitStr], errors: &mut Errors) -> Accepted {
    let mut accepted = Accepted::NONE;
    for lit in names {
        match Credential::from_attr(&lit.value()) {
            Some(credential) => {
                if accepted.add(credential) {
                    errors.spanned(lit, format!("`{}` is listed twice in `auth`", lit.value()));
                }
            }
            None => {
                let hint = closest(&lit.value(), Credential::ALL.map(|(spelling, _)| spelling))
                    .map_or_else(String::new, |candidate| format!("; did you mean `{candidate}`?"));
                errors.spanned(
                    lit,
                    format!(
                        "unknown credential `{}` in `auth`; expected `bearer`, `dpop` or `api_key`{hint}",
                        lit.value()
                    ),
                );
            }
        }
    }
    if accepted == Accepted::NONE { Accepted::ANY } else { accepted }
}

fn rate_spec(kind: Kind, args: &Args, errors: &mut Errors) -> Option<RateSpec> {
    let key = match &args.rate_key {
        None if kind == Kind::Public => RateKey::Ip,
        None => RateKey::Subject,
        Some(lit) => RateKey::from_attr(&lit.value()).unwrap_or_else(|| {
            let hint = closest(&lit.value(), RateKey::ALL.map(|(spelling, _)| spelling))
                .map_or_else(String::new, |candidate| format!("; did you mean `{candidate}`?"));
            errors.spanned(
                lit,
                format!("unknown rate key `{}`; expected `sub`, `ip`, `client` or `api_key`{hint}", lit.value()),
            );
            RateKey::Subject
        }),
    };
    let burst = match &args.burst {
        None => None,
        Some(lit) => match lit.base10_parse::<u32>() {
            Ok(0) => {
                errors.spanned(lit, "a burst of 0 would refuse every request; use at least 1");
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.spanned(lit, format!("the burst must be a whole number up to {}", u32::MAX));
                None
            }
        },
    };
    let Some(lit) = &args.rate else {
        if let Some(burst) = &args.burst {
            errors.spanned(burst, "`burst` needs a `rate`, as in `rate = \"10/min\", burst = 20`");
        }
        if let Some(rate_key) = &args.rate_key {
            errors.spanned(rate_key, "`rate_key` needs a `rate`, as in `rate = \"10/min\", rate_key = \"ip\"`");
        }
        return None;
    };
    match parse_rate(&lit.value()) {
        Ok(rate) => {
            Some(RateSpec { count: rate.count, period_secs: rate.period_secs, burst: burst.unwrap_or(rate.count), key })
        }
        Err(message) => {
            errors.spanned(lit, message);
            None
        }
    }
}

/// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
fn is_scope_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Each scope `policy` names with its description in `registry`, once, in order of appearance.
fn described_scopes(policy: &[PolicyExpr], registry: &Registry) -> Vec<(String, String)> {
    fn walk(expr: &PolicyExpr, registry: &Registry, out: &mut Vec<(String, String)>) {
        match expr {
            PolicyExpr::Scope(lit) => {
                let scope = lit.value();
                if let Some((_, description)) = registry.scopes.iter().find(|(s, _)| *s == scope)
                    && !out.iter().any(|(s, _)| *s == scope)
                {
                    out.push((scope, description.clone()));
                }
            }
            PolicyExpr::Role(_) => {}
            PolicyExpr::All(inner, _) | PolicyExpr::Any(inner, _) => inner.iter().for_each(|e| walk(e, registry, out)),
        }
    }
    let mut out = Vec::new();
    policy.iter().for_each(|expr| walk(expr, registry, &mut out));
    out
}

fn check_policy(expr: &PolicyExpr, registry: Option<&Registry>, errors: &mut Errors) {
    match expr {
        PolicyExpr::Scope(lit) => {
            let value = lit.value();
            if value.is_empty() {
                errors.spanned(lit, "a scope cannot be empty");
            } else if !is_scope_token(&value) {
                errors.spanned(lit, format!("`{value}` is not one scope: no spaces, quotes or backslashes (RFC 6749 §3.3); for several, write `scope = [\"a\", \"b\"]`"));
            } else if let Some(registry) = registry
                && !registry.has_scope(&value)
            {
                let hint = closest(&value, registry.scopes.iter().map(|(s, _)| s.as_str()))
                    .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
                errors.spanned(
                    lit,
                    format!("unknown scope `{value}`: it is not declared in {}{hint}", registry.file.display()),
                );
            }
        }
        PolicyExpr::Role(lit) => {
            let value = lit.value();
            if value.trim().is_empty() {
                errors.spanned(lit, "a role cannot be empty");
            } else if let Some(registry) = registry
                && !registry.has_role(&value)
            {
                let hint = closest(&value, registry.roles.iter().map(String::as_str))
                    .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
                errors.spanned(
                    lit,
                    format!("unknown role `{value}`: it is not declared in {}{hint}", registry.file.display()),
                );
            }
        }
        PolicyExpr::All(inner, span) | PolicyExpr::Any(inner, span) => {
            if inner.is_empty() {
                errors.push(syn::Error::new(
                    *span,
                    "an empty combination would deny everyone; list at least one scope or role",
                ));
            }
            for expr in inner {
                check_policy(expr, registry, errors);
            }
        }
    }
}

/// The name of an extractor that authenticates the caller (`Principal`, `Authorized<_>`, ...),
/// when `ty` is one; `Option<Principal>` is not (it reads credentials only when given).
fn authenticating_extractor(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    ["Principal", "Authorized", "Checked", "Visibility"]
        .contains(&last.ident.to_string().as_str())
        .then(|| last.ident.to_string())
}

/// The extractors that read the request body (`Json`, `Form`, `Bytes`, `String`, `Request`,
/// `Multipart`, also inside `Valid<...>`): the name, when `ty` is one.
fn body_extractor(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let name = last.ident.to_string();
    if name == "Valid"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return body_extractor(inner);
    }
    ["Json", "Form", "Bytes", "String", "Request", "Multipart", "RawForm", "Body"]
        .contains(&name.as_str())
        .then_some(name)
}

/// A body extractor anywhere but last: axum runs only the last argument on the body, so rustc
/// would say only that the handler is not a handler.
fn check_body_is_last(arg_types: &[Type], errors: &mut Errors) {
    let Some((_, others)) = arg_types.split_last() else { return };
    for ty in others {
        if let Some(name) = body_extractor(ty) {
            errors.spanned(
                ty,
                format!(
                    "`{name}` reads the request body, so it must be the handler's last argument: move it after the others \
                     (one body extractor per handler)"
                ),
            );
        }
    }
}

/// The index of the argument whose type's last segment is `name`, and its first type argument.
fn argument_of(arg_types: &[Type], name: &str) -> Option<(usize, Option<Type>)> {
    arg_types.iter().enumerate().find_map(|(index, ty)| {
        let Type::Path(path) = ty else { return None };
        let last = path.path.segments.last()?;
        if last.ident != name {
            return None;
        }
        let inner = match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            }),
            _ => None,
        };
        Some((index, inner))
    })
}

/// Checks `load`, `owner`, `relation` and the `Checked<R>` / `Visibility` arguments together.
fn resource_check(
    args: &Args,
    arg_types: &[Type],
    registry: Option<&Registry>,
    errors: &mut Errors,
) -> Option<ResourceCheck> {
    let checked = argument_of(arg_types, "Checked");
    let visibility = argument_of(arg_types, "Visibility");
    let relation = args.relation.as_ref().and_then(|lit| {
        let resolved = match registry {
            Some(registry) => registry.relation(&lit.value()),
            None => Err("`relation` needs the relations declared in rampart.toml (next to Cargo.toml): \
                 `[relations.<type>]` with each relation and the relations that imply it"
                .to_owned()),
        };
        resolved.map_err(|message| errors.spanned(lit, message)).ok()
    });
    if let Some(owner) = &args.owner {
        if args.relation.is_some() {
            errors.spanned(owner, "a route checks its resource by `owner` or by `relation`, not both");
            return None;
        }
        if args.load.is_none() {
            errors.spanned(
                owner,
                "`owner` applies to a loaded resource: add `load = path::to_fn` (an async fn of the path parameters \
                 and the state) and take the resource as a `Checked<Resource>` argument",
            );
            return None;
        }
    }
    if let Some(load) = &args.load {
        if args.owner.is_none() && args.relation.is_none() {
            errors.spanned(
                load,
                "`load` needs a rule for the loaded resource: `owner = path::to_fn` or `relation = \"type#relation\"`",
            );
            return None;
        }
        let Some((_, resource)) = checked else {
            errors.spanned(
                load,
                "the loaded resource reaches the handler only checked: take it as a `Checked<Resource>` argument",
            );
            return None;
        };
        let resource = resource.unwrap_or_else(|| syn::parse_quote!(_));
        if let Some(owner) = &args.owner {
            return Some(ResourceCheck::Owned { load: load.clone(), owner: owner.clone(), resource });
        }
        return relation.map(|relation| ResourceCheck::Related { load: load.clone(), relation, resource });
    }
    if let Some((index, _)) = checked {
        errors.spanned(
            &arg_types[index],
            "`Checked<Resource>` is loaded and checked by the attribute: add `load = path::to_fn` and \
             `owner = path::to_fn` or `relation = \"type#relation\"` to #[secure(...)]",
        );
        return None;
    }
    match (&args.relation, visibility) {
        (Some(lit), None) => {
            errors.spanned(
                lit,
                "a `relation` applies to a loaded resource (add `load = path::to_fn` and a `Checked<Resource>` \
                 argument) or to a list (take a `Visibility` argument)",
            );
            None
        }
        (None, Some((index, _))) => {
            errors.spanned(
                &arg_types[index],
                "`Visibility` is built from the attribute's `relation = \"type#relation\"`; add it to #[secure(...)]",
            );
            None
        }
        (Some(_), Some(_)) => relation.map(|relation| ResourceCheck::Listed { relation }),
        (None, None) => None,
    }
}

/// The inner type of an `axum::extract::Path<T>` (or `rampart::extract::Path<T>`) argument.
fn path_extractor(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Path" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn check_path_extractor(params: &[String], path: &LitStr, arg_types: &[Type], errors: &mut Errors) {
    let extractor = arg_types.iter().find_map(|t| path_extractor(t).map(|inner| (t, inner)));
    match (params.is_empty(), extractor) {
        (true, None) => {}
        (false, None) => errors.spanned(
            path,
            format!(
                "the path has parameter{} {} but the handler takes no `Path<...>` argument; add one, as in `Path(id): Path<u64>`",
                if params.len() > 1 { "s" } else { "" },
                params.iter().map(|p| format!("`{{{p}}}`")).collect::<Vec<_>>().join(", ")
            ),
        ),
        (true, Some((ty, _))) => {
            errors.spanned(ty, format!("the handler takes `Path<...>` but the path `{}` has no parameter", path.value()));
        }
        (false, Some((ty, inner))) => {
            let taken = match inner {
                Type::Tuple(tuple) => Some(tuple.elems.len()),
                Type::Path(p) if p.path.segments.len() == 1 && is_scalar(&p.path.segments[0].ident) => Some(1),
                _ => None,
            };
            if let Some(taken) = taken
                && taken != params.len()
            {
                errors.spanned(
                    ty,
                    format!("the path `{}` has {} parameter(s) but this extractor takes {taken}", path.value(), params.len()),
                );
            }
        }
    }
}

fn is_scalar(ident: &Ident) -> bool {
    matches!(
        ident.to_string().as_str(),
        "String"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "bool"
            | "char"
            | "Uuid"
    )
}

/// The doc comment split into a summary (first paragraph) and a description (the rest).
fn doc_comment(func: &ItemFn) -> (Option<String>, Option<String>) {
    let lines: Vec<String> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    match text.split_once("\n\n") {
        Some((summary, rest)) => (Some(summary.replace('\n', " ")), Some(rest.trim().to_owned())),
        None => (Some(text.replace('\n', " ")), None),
    }
}

/// `T` of the first `Json<T>` in a return type, looking through `Result`'s success side and tuples.
fn json_body(ty: &Type) -> Option<Type> {
    match ty {
        Type::Paren(inner) => json_body(&inner.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(json_body),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
            let first = args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })?;
            match last.ident.to_string().as_str() {
                "Json" => Some(first.clone()),
                "Result" => json_body(first),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `tokens` contain `impl` (an opaque type, which cannot be named again).
fn mentions_impl(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod timeout_tests {
    use super::parse_timeout;

    #[test]
    fn timeouts_take_a_unit_and_stay_within_an_hour() {
        assert_eq!(parse_timeout("5s"), Ok(5_000));
        assert_eq!(parse_timeout("250ms"), Ok(250));
        assert_eq!(parse_timeout("2min"), Ok(120_000));
        assert!(parse_timeout("5").unwrap_err().contains("no unit"));
        assert!(parse_timeout("5h").unwrap_err().contains("unknown duration unit"));
        assert!(parse_timeout("0s").unwrap_err().contains("remove `timeout`"));
        assert!(parse_timeout("61min").unwrap_err().contains("one hour"));
        assert!(parse_timeout("soon").unwrap_err().contains("not a duration"));
    }
}
