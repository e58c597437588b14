//! The audit's rules: stable ids, what each finds, why it matters and how to fix it.

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Note,
    /// Likely a weakness.
    Warning,
    /// A bypass or an exposed secret.
    Error,
}

impl Severity {
    /// The lowercase name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, `RAMPART` + 3 digits.
    pub id: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    /// How bad a match is.
    pub severity: Severity,
    /// One line saying what the rule finds.
    pub summary: &'static str,
    /// How to fix a finding.
    pub help: &'static str,
}

/// RAMPART001.
pub const UNANNOTATED_HANDLER: &Rule = &Rule {
    id: "RAMPART001",
    name: "handler-without-policy",
    severity: Severity::Error,
    summary: "A handler is mounted without #[secure] or #[public]",
    help: "Annotate the handler with #[rampart::secure(...)] or #[rampart::public(reason = ...)] so that its authentication, authorization and rate limit are declared and enforced.",
};

/// RAMPART002.
pub const RAW_ROUTE: &Rule = &Rule {
    id: "RAMPART002",
    name: "raw-axum-route",
    severity: Severity::Error,
    summary: "A route is added with raw axum routing, bypassing the secure router",
    help: "Mount the handler on rampart::Router with .mount(handler): raw .route/.nest_service/.fallback routes get no authentication, authorization, rate limit or inventory entry.",
};

/// RAMPART003.
pub const PUBLIC_MUTATION: &Rule = &Rule {
    id: "RAMPART003",
    name: "public-mutating-endpoint",
    severity: Severity::Warning,
    summary: "#[public] on a state-changing method",
    help: "Anyone can call a #[public] endpoint. Use #[secure(...)] for POST/PUT/PATCH/DELETE unless it must be open (a token endpoint, a webhook with its own signature check); then say so with `// rampart-audit: allow(RAMPART003) why` above it (a marker without a reason silences nothing).",
};

/// RAMPART004.
pub const NO_RATE: &Rule = &Rule {
    id: "RAMPART004",
    name: "secure-without-rate",
    severity: Severity::Warning,
    summary: "#[secure] endpoint without a rate limit",
    help: "Add `rate = \"100/min\"` (per subject) so that one token cannot exhaust the service.",
};

/// RAMPART005.
pub const MANUAL_IMPL: &Rule = &Rule {
    id: "RAMPART005",
    name: "hand-written-endpoint-impl",
    severity: Severity::Error,
    summary: "Hand-written impl of Endpoint/EndpointHandler",
    help: "Only #[secure]/#[public] should implement these traits: a hand-written impl can claim any contract and enforce none. Annotate the handler instead.",
};

/// RAMPART006.
pub const PERMISSIVE_CORS: &Rule = &Rule {
    id: "RAMPART006",
    name: "permissive-cors",
    severity: Severity::Error,
    summary: "CORS allows any origin",
    help: "List the allowed origins (RAMPART_CORS_ORIGINS or CorsPolicy with explicit origins); any-origin CORS lets every website call the API from its users' browsers.",
};

/// RAMPART007.
pub const HARDCODED_SECRET: &Rule = &Rule {
    id: "RAMPART007",
    name: "hard-coded-secret",
    severity: Severity::Error,
    summary: "A secret or private key is written in the source",
    help: "Read secrets from the environment or a secret store (RAMPART_JWT_SECRET, RAMPART_SEAL_KEY, files outside the repository); a committed secret must be rotated.",
};

/// RAMPART008.
pub const ENV_NOT_IGNORED: &Rule = &Rule {
    id: "RAMPART008",
    name: "env-file-not-ignored",
    severity: Severity::Error,
    summary: ".env is not ignored by git",
    help: "Add `.env` to .gitignore: it holds the service's secrets.",
};

/// RAMPART009.
pub const WEAK_CONFIG: &Rule = &Rule {
    id: "RAMPART009",
    name: "weak-security-setting",
    severity: Severity::Error,
    summary: "A weakened security setting",
    help: "HS256/384/512 secrets need at least 32 random bytes, token leeway at most 300 s, and `danger_`/`insecure_` switches have no place in a service.",
};

/// RAMPART010.
pub const ROOT_CONTAINER: &Rule = &Rule {
    id: "RAMPART010",
    name: "container-runs-as-root",
    severity: Severity::Warning,
    summary: "The Dockerfile's final stage runs as root",
    help: "Create an unprivileged user and switch to it with `USER 10001:10001` in the final stage.",
};

/// RAMPART011.
pub const NO_DENY: &Rule = &Rule {
    id: "RAMPART011",
    name: "no-cargo-deny",
    severity: Severity::Warning,
    summary: "No deny.toml: dependencies are not checked for advisories, yanked versions or OpenSSL",
    help: "Add a deny.toml (`rampart new` writes one) and run `cargo deny check` in CI.",
};

/// RAMPART012.
pub const UNPARSABLE: &Rule = &Rule {
    id: "RAMPART012",
    name: "unparsable-source",
    severity: Severity::Warning,
    summary: "A Rust file could not be parsed, so it was not audited",
    help: "Fix the syntax error (cargo check shows it); the audit cannot see into this file until then.",
};

/// RAMPART013.
pub const MOUNTED_SERVICE: &Rule = &Rule {
    id: "RAMPART013",
    name: "mounted-service",
    severity: Severity::Note,
    summary: "A service (static files, ...) is mounted without an endpoint contract",
    help: "Anyone may call what `.mount_service(path, service, reason)` serves; its answers get the secure headers and request id. Check that it serves only what may be public (no directory above the intended one, no source maps or dotfiles).",
};

/// RAMPART014.
pub const NOT_REVIEWABLE: &Rule = &Rule {
    id: "RAMPART014",
    name: "not-reviewable-by-reading",
    severity: Severity::Warning,
    summary: "Code a reader of the sources cannot see into: items made by a macro, an `include!` or `#[path]` that cannot be followed",
    help: "Items a macro invocation expands to (a handler, a route) are invisible to a text review: declare endpoints with the attribute directly, or keep the security lockfile (rampart.lock) fresh so that `rampart review` judges what is compiled. Accept a macro that makes no endpoint with `// rampart-audit: allow(RAMPART014) why`.",
};

/// Every rule, in id order.
pub const RULES: &[&Rule] = &[
    UNANNOTATED_HANDLER,
    RAW_ROUTE,
    PUBLIC_MUTATION,
    NO_RATE,
    MANUAL_IMPL,
    PERMISSIVE_CORS,
    HARDCODED_SECRET,
    ENV_NOT_IGNORED,
    WEAK_CONFIG,
    ROOT_CONTAINER,
    NO_DENY,
    UNPARSABLE,
    MOUNTED_SERVICE,
    NOT_REVIEWABLE,
];
