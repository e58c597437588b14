//! The source rules: one pass of a syn visitor over each file. Test code (`#[cfg(test)]`
//! modules, `#[test]` functions) is skipped: tests legitimately hold fixed secrets and mock routes.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprCall, ExprLit, ExprMethodCall, ItemFn, ItemImpl, ItemMod, Lit, Meta, Token};

use super::Hit;
use super::rules::{self, Rule};

/// A route declared by an attribute, for `--inventory`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Route {
    /// HTTP method, uppercase.
    pub method: String,
    /// The route template.
    pub path: String,
    /// The policy as written, or `public: REASON`.
    pub access: String,
    /// The `rate` argument, if any.
    pub rate: Option<String>,
    /// The handler function.
    pub handler: String,
    /// Repository-relative file.
    pub file: String,
    /// 1-based line of the attribute.
    pub line: usize,
    /// `secure` or `public`.
    #[serde(skip)]
    pub kind: String,
    /// The policy's top-level items as written (`scope = "a"`, `any(...)`), for `review`.
    #[serde(skip)]
    pub policy: Vec<String>,
    /// Every other argument as written (`burst`, `body_limit`, `validate`, `owner`, `load`,
    /// `relation`, `rate_key`, `reason`, ...).
    #[serde(skip)]
    pub arguments: std::collections::BTreeMap<String, String>,
    /// The contract as the compiler reads the attribute (`rampart-macros-core`), or why it does
    /// not compile; for `review`.
    #[serde(skip)]
    pub contract: Result<rampart_macros_core::Contract, String>,
}

/// What one file yields.
#[derive(Default)]
pub struct FileFacts {
    /// Rule matches.
    pub hits: Vec<Hit>,
    /// Declared routes.
    pub routes: Vec<Route>,
    /// Plain (unannotated) `async fn` names.
    pub plain_async_fns: Vec<String>,
    /// `.mount(name)` calls: the mounted name and where.
    pub mounts: Vec<(String, usize, usize)>,
    /// Names of the `macro_rules!` the file defines.
    pub defined_macros: Vec<String>,
    /// Statement-position macro calls (name, line, column): reported when the project defines
    /// the macro (it may expand to a handler or a route).
    pub statement_macros: Vec<(String, usize, usize)>,
    /// Files the file brings in by path (`include!("...")`, `#[path = "..."] mod m;`), as
    /// written, with where: followed by the audit.
    pub included: Vec<(String, usize, usize)>,
    /// `mod m;` declarations compiled only in tests (`#[cfg(test)]`): their files are test code.
    pub test_modules: Vec<String>,
}

/// The syntax-tree walk that collects [`FileFacts`] from one file.
pub struct Visitor<'a> {
    file: &'a str,
    /// The file's absolute path, to find the `rampart.toml` the attribute reads.
    source: Option<std::path::PathBuf>,
    facts: FileFacts,
    in_test: usize,
}

/// Item-position macros of the standard library and tokio that make no handler or route.
const KNOWN_ITEM_MACROS: [&str; 4] = ["thread_local", "task_local", "macro_rules", "compile_error"];

const RAW_ROUTING: [&str; 6] = ["route", "route_service", "nest", "nest_service", "fallback", "fallback_service"];
const SECRET_NAMES: [&str; 7] = ["SECRET", "PASSWORD", "PASSWD", "PRIVATE_KEY", "API_KEY", "TOKEN", "CREDENTIAL"];
const MUTATING: [&str; 4] = ["post", "put", "patch", "delete"];
const MAX_LEEWAY_SECS: u64 = 300;
const MIN_HMAC_BYTES: usize = 32;

fn position(span: Span) -> (usize, usize) {
    let start = span.start();
    (start.line, start.column + 1)
}

/// Whether the item is compiled only in tests: `#[test]`, or a `cfg` whose predicate is false
/// when `test` is (judged by its meaning, not its text: `cfg(any(test, not(test)))` is always
/// compiled, and a predicate on anything else may hold in production).
pub(crate) fn is_test_attr(attr: &Attribute) -> bool {
    let path = attr.path();
    if path.segments.len() == 1 && path.is_ident("test") {
        return true;
    }
    path.is_ident("cfg")
        && attr
            .meta
            .require_list()
            .ok()
            .and_then(|list| syn::parse2::<Meta>(list.tokens.clone()).ok())
            .is_some_and(|predicate| cfg_outside_tests(&predicate) == Some(false))
}

/// A `cfg` predicate's value in a build without `test`: `Some(false)` never compiled there,
/// `Some(true)` always, `None` depends on features, targets and other options.
fn cfg_outside_tests(predicate: &Meta) -> Option<bool> {
    let nested = |list: &syn::MetaList| -> Option<Vec<Meta>> {
        list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok().map(|p| p.into_iter().collect())
    };
    match predicate {
        Meta::Path(path) if path.is_ident("test") => Some(false),
        Meta::List(list) if list.path.is_ident("not") => {
            let inner = nested(list)?;
            match inner.as_slice() {
                [one] => cfg_outside_tests(one).map(|value| !value),
                _ => None,
            }
        }
        Meta::List(list) if list.path.is_ident("all") => {
            let values: Vec<Option<bool>> = nested(list)?.iter().map(cfg_outside_tests).collect();
            if values.contains(&Some(false)) {
                Some(false)
            } else if values.iter().all(|v| *v == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        Meta::List(list) if list.path.is_ident("any") => {
            let values: Vec<Option<bool>> = nested(list)?.iter().map(cfg_outside_tests).collect();
            if values.contains(&Some(true)) {
                Some(true)
            } else if values.iter().all(|v| *v == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn last_ident(path: &syn::Path) -> String {
    path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default()
}

/// The bytes of a string or byte-string literal, directly or as `"...".as_bytes()`.
fn literal_bytes(expr: &Expr) -> Option<(usize, Span)> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some((s.value().len(), s.span())),
        Expr::Lit(ExprLit { lit: Lit::ByteStr(b), .. }) => Some((b.value().len(), b.span())),
        Expr::Reference(r) => literal_bytes(&r.expr),
        Expr::MethodCall(m) if m.method == "as_bytes" || m.method == "to_vec" || m.method == "into" => {
            literal_bytes(&m.receiver)
        }
        _ => None,
    }
}

impl<'a> Visitor<'a> {
    /// A walk over the file at the repository-relative path `file`.
    pub fn new(file: &'a str) -> Self {
        Self { file, source: None, facts: FileFacts::default(), in_test: 0 }
    }

    /// A walk over `file`, which is at the absolute path `source` (the attribute's
    /// `rampart.toml` is found from there, as the compiler finds it).
    pub fn at(file: &'a str, source: std::path::PathBuf) -> Self {
        Self { source: Some(source), ..Self::new(file) }
    }

    /// What the walk found.
    pub fn finish(self) -> FileFacts {
        self.facts
    }

    fn hit(&mut self, rule: &'static Rule, span: Span, message: impl Into<String>) {
        if self.in_test > 0 {
            return;
        }
        let (line, column) = position(span);
        self.facts.hits.push(Hit { rule, line, column, message: message.into() });
    }

    fn secret_argument(&mut self, callee: &str, args: &Punctuated<Expr, Token![,]>) {
        for arg in args {
            if let Some((len, span)) = literal_bytes(arg) {
                self.hit(rules::HARDCODED_SECRET, span, format!("a literal secret is passed to `{callee}`"));
                if len < MIN_HMAC_BYTES {
                    self.hit(
                        rules::WEAK_CONFIG,
                        span,
                        format!(
                            "an HMAC secret of {len} bytes is passed to `{callee}` (at least {MIN_HMAC_BYTES} needed)"
                        ),
                    );
                }
            }
        }
    }

    fn endpoint_attribute(&mut self, func: &ItemFn, attr: &Attribute, kind: &str) {
        let Ok(args) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else { return };
        let mut method = None;
        let mut path = None;
        let mut rate = None;
        let mut policy = Vec::new();
        let mut reason = None;
        let mut arguments = std::collections::BTreeMap::new();
        for meta in &args {
            let key = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
            match meta {
                Meta::Path(_) if method.is_none() => method = Some((key, meta.span())),
                Meta::NameValue(nv) => {
                    let value = match &nv.value {
                        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => s.value(),
                        other => quote::ToTokens::to_token_stream(other).to_string(),
                    };
                    match key.as_str() {
                        "path" => path = Some(value),
                        "rate" => rate = Some(value),
                        "reason" => {
                            arguments.insert(key, value.clone());
                            reason = Some(value);
                        }
                        "scope" | "role" => {
                            let value = quote::ToTokens::to_token_stream(&nv.value).to_string();
                            policy.push(format!("{key} = {}", value.replace(" ,", ",")))
                        }
                        _ => {
                            arguments.insert(key, value);
                        }
                    }
                }
                Meta::List(list) if key == "any" || key == "all" => {
                    policy.push(format!("{key}({})", list.tokens.to_string().replace(" ,", ",")));
                }
                Meta::Path(_) => {
                    arguments.insert(key, "true".to_owned());
                }
                _ => {}
            }
        }
        let handler = func.sig.ident.to_string();
        if kind == "public"
            && let Some((m, span)) = &method
            && MUTATING.contains(&m.as_str())
        {
            self.hit(
                rules::PUBLIC_MUTATION,
                *span,
                format!("`{handler}` is #[public] on {}: anyone may call it", m.to_uppercase()),
            );
        }
        if kind == "secure" && rate.is_none() {
            self.hit(rules::NO_RATE, attr.span(), format!("`{handler}` is #[secure] without a rate limit"));
        }
        if self.in_test == 0 {
            let access = if kind == "public" {
                format!("public ({})", reason.unwrap_or_default())
            } else if policy.is_empty() {
                "authenticated".to_owned()
            } else {
                policy.join(", ")
            };
            if let Some(rate) = &rate {
                arguments.insert("rate".to_owned(), rate.clone());
            }
            self.facts.routes.push(Route {
                // An attribute without a method or path does not compile; the inventory still
                // lists it, with `?` where the argument is missing.
                method: method.map_or_else(|| "?".to_owned(), |(m, _)| m.to_uppercase()),
                path: path.unwrap_or_else(|| "?".to_owned()),
                access,
                rate,
                handler,
                file: self.file.to_owned(),
                line: position(attr.span()).0,
                kind: kind.to_owned(),
                policy,
                arguments,
                // Read only for the routes listed (not in test code).
                contract: self.contract(func, attr, kind),
            });
        }
    }

    /// The attribute read by `rampart-macros-core`, as the compiler reads it (the function
    /// without this attribute, as the macro receives it).
    fn contract(&self, func: &ItemFn, attr: &Attribute, kind: &str) -> Result<rampart_macros_core::Contract, String> {
        let kind = if kind == "public" { rampart_macros_core::Kind::Public } else { rampart_macros_core::Kind::Secure };
        let args = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => proc_macro2::TokenStream::new(),
        };
        let mut item = func.clone();
        item.attrs.retain(|other| other != attr);
        rampart_macros_core::contract(kind, args, quote::ToTokens::to_token_stream(&item), self.source.clone())
    }
}

impl Visitor<'_> {
    /// `.mount_service(path, service, reason)`: a public route of the inventory, and a note.
    fn mounted_service(&mut self, call: &ExprMethodCall) {
        let literal = |index: usize| match call.args.iter().nth(index) {
            Some(Expr::Lit(ExprLit { lit: Lit::Str(s), .. })) => Some(s.value()),
            _ => None,
        };
        let path = literal(0).unwrap_or_else(|| "?".to_owned());
        let reason = literal(2).unwrap_or_default();
        self.hit(
            rules::MOUNTED_SERVICE,
            call.method.span(),
            format!("`GET {path}` is served by a mounted service, public: {reason}"),
        );
        if self.in_test == 0 {
            let line = position(call.method.span()).0;
            self.facts.routes.push(Route {
                method: "GET".to_owned(),
                path: path.clone(),
                access: format!("public ({reason})"),
                rate: None,
                handler: "mount_service".to_owned(),
                file: self.file.to_owned(),
                line,
                kind: "public".to_owned(),
                policy: Vec::new(),
                arguments: std::collections::BTreeMap::from([("reason".to_owned(), reason.clone())]),
                contract: Ok(rampart_macros_core::Contract {
                    handler: "mount_service".to_owned(),
                    method: "GET",
                    path: path.clone(),
                    public_reason: Some(reason),
                    policy: None,
                    accepts: Vec::new(),
                    rate: None,
                    body_limit: 0,
                    validate: false,
                    timeout_ms: None,
                    load: None,
                    owner: None,
                    relation: None,
                    status: 200,
                }),
            });
        }
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_mod(&mut self, item: &'ast ItemMod) {
        let test = item.attrs.iter().any(is_test_attr);
        if item.content.is_none() {
            let path = item.attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
                Meta::NameValue(nv) => match &nv.value {
                    Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            });
            if test || self.in_test > 0 {
                self.facts.test_modules.push(path.unwrap_or_else(|| item.ident.to_string()));
            } else if let Some(path) = path {
                let (line, column) = position(item.ident.span());
                self.facts.included.push((path, line, column));
            }
        }
        self.in_test += usize::from(test);
        visit::visit_item_mod(self, item);
        self.in_test -= usize::from(test);
    }

    fn visit_item_fn(&mut self, func: &'ast ItemFn) {
        let test = func.attrs.iter().any(is_test_attr);
        self.in_test += usize::from(test);
        let mut annotated = false;
        for attr in &func.attrs {
            let name = last_ident(attr.path());
            if name == "secure" || name == "public" {
                annotated = true;
                self.endpoint_attribute(func, attr, &name);
            }
        }
        if !annotated && func.sig.asyncness.is_some() && self.in_test == 0 {
            self.facts.plain_async_fns.push(func.sig.ident.to_string());
        }
        visit::visit_item_fn(self, func);
        self.in_test -= usize::from(test);
    }

    fn visit_item_impl(&mut self, item: &'ast ItemImpl) {
        if let Some((_, path, _)) = &item.trait_
            && matches!(last_ident(path).as_str(), "Endpoint" | "EndpointHandler")
        {
            self.hit(
                rules::MANUAL_IMPL,
                path.span(),
                format!("`impl {}` written by hand: the contract it claims is not enforced", last_ident(path)),
            );
        }
        visit::visit_item_impl(self, item);
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        let method = call.method.to_string();
        if RAW_ROUTING.contains(&method.as_str()) {
            let message = match call.args.first() {
                Some(Expr::Lit(ExprLit { lit: Lit::Str(path), .. })) => {
                    format!(
                        "`.{method}(\"{}\", ...)` serves `{}` outside the secure router",
                        path.value(),
                        path.value()
                    )
                }
                _ if method.starts_with("fallback") => {
                    format!("`.{method}(...)` serves every unmatched path outside the secure router")
                }
                _ => format!("`.{method}(...)` adds a route whose path is not a literal, outside the secure router"),
            };
            self.hit(rules::RAW_ROUTE, call.method.span(), message);
        } else if method == "mount"
            && let Some(Expr::Path(arg)) = call.args.first()
        {
            let (line, column) = position(arg.span());
            if self.in_test == 0 {
                self.facts.mounts.push((last_ident(&arg.path), line, column));
            }
        } else if method == "mount_service" {
            self.mounted_service(call);
        } else if method == "allow_origin"
            && call.args.first().is_some_and(|a| matches!(a, Expr::Path(p) if last_ident(&p.path) == "Any"))
        {
            self.hit(
                rules::PERMISSIVE_CORS,
                call.method.span(),
                "`.allow_origin(Any)` lets every website call the API",
            );
        } else if method.starts_with("danger_") || method.starts_with("insecure_") {
            self.hit(rules::WEAK_CONFIG, call.method.span(), format!("`.{method}(...)` switches a protection off"));
        } else if method == "leeway"
            && let Some(Expr::Call(inner)) = call.args.first()
            && let Expr::Path(f) = &*inner.func
            && last_ident(&f.path) == "from_secs"
            && let Some(Expr::Lit(ExprLit { lit: Lit::Int(n), .. })) = inner.args.first()
            && n.base10_parse::<u64>().is_ok_and(|secs| secs > MAX_LEEWAY_SECS)
        {
            self.hit(
                rules::WEAK_CONFIG,
                n.span(),
                format!("a token leeway of {n} s (at most {MAX_LEEWAY_SECS} s): expired tokens stay valid that long"),
            );
        } else if method == "sign_hs256" || method == "from_secret" {
            self.secret_argument(&method, &call.args);
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Expr::Path(f) = &*call.func {
            let segments: Vec<String> = f.path.segments.iter().map(|s| s.ident.to_string()).collect();
            let tail: Vec<&str> = segments.iter().rev().take(2).rev().map(String::as_str).collect();
            match tail.as_slice() {
                ["CorsLayer", "permissive" | "very_permissive"] | ["AllowOrigin", "any" | "mirror_request"] => {
                    self.hit(rules::PERMISSIVE_CORS, f.span(), format!("`{}` allows any origin", tail.join("::")));
                }
                [.., "from_secret"] => self.secret_argument(&segments.join("::"), &call.args),
                _ => {}
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.named_secret(&item.ident, &item.expr);
        visit::visit_item_const(self, item);
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.named_secret(&item.ident, &item.expr);
        visit::visit_item_static(self, item);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let syn::Pat::Ident(pat) = &local.pat
            && let Some(init) = &local.init
        {
            self.named_secret(&pat.ident, &init.expr);
        }
        visit::visit_local(self, local);
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        let name = last_ident(&item.mac.path);
        if name == "macro_rules" {
            if let Some(ident) = &item.ident {
                self.facts.defined_macros.push(ident.to_string());
            }
        } else if name == "include" {
            self.include(&item.mac);
        } else if !KNOWN_ITEM_MACROS.contains(&name.as_str()) && self.in_test == 0 {
            self.hit(
                rules::NOT_REVIEWABLE,
                item.mac.path.span(),
                format!("the items `{name}!` expands to cannot be read: a handler or route it makes is not reviewed"),
            );
        }
        visit::visit_item_macro(self, item);
    }

    fn visit_stmt_macro(&mut self, stmt: &'ast syn::StmtMacro) {
        let name = last_ident(&stmt.mac.path);
        if name == "include" {
            self.include(&stmt.mac);
        } else if self.in_test == 0 {
            let (line, column) = position(stmt.mac.path.span());
            self.facts.statement_macros.push((name, line, column));
        }
        visit::visit_stmt_macro(self, stmt);
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        let value = lit.value();
        if value.contains("-----BEGIN") && value.contains("PRIVATE KEY-----") {
            self.hit(rules::HARDCODED_SECRET, lit.span(), "a PEM private key is written in the source");
        }
    }
}

impl Visitor<'_> {
    /// `include!("file.rs")`: followed by the audit; any other argument cannot be.
    fn include(&mut self, mac: &syn::Macro) {
        if self.in_test > 0 {
            return;
        }
        let (line, column) = position(mac.path.span());
        match syn::parse2::<syn::LitStr>(mac.tokens.clone()) {
            Ok(path) => self.facts.included.push((path.value(), line, column)),
            Err(_) => self.hit(
                rules::NOT_REVIEWABLE,
                mac.path.span(),
                format!("`include!({})` names a file only the build knows: its code is not reviewed", mac.tokens),
            ),
        }
    }

    /// `const JWT_SECRET: &str = "..."` and the like.
    fn named_secret(&mut self, ident: &syn::Ident, expr: &Expr) {
        let name = ident.to_string().to_uppercase();
        if !SECRET_NAMES.iter().any(|s| name.contains(s)) {
            return;
        }
        if let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = expr {
            let value = s.value();
            // An environment variable's name is not its value.
            let looks_like_env_name = value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if value.len() >= 8 && !looks_like_env_name {
                self.hit(rules::HARDCODED_SECRET, s.span(), format!("`{ident}` holds a literal secret"));
            }
        }
    }
}
