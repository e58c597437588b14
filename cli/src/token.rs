//! `rampart token`: a development JWT signed with the service's HS256 secret.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The longest lifetime of a development token.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Claims that have their own flags or are set by the signer.
const RESERVED_CLAIMS: [&str; 9] = ["sub", "iss", "aud", "exp", "iat", "nbf", "jti", "scope", "roles"];

#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    /// The subject (`sub` claim).
    #[arg(long)]
    sub: String,
    /// Space-separated scopes (`scope` claim), such as "notes:read notes:write".
    #[arg(long, default_value = "")]
    scope: String,
    /// A role for the `roles` claim (repeatable).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// Lifetime, such as `15m` or `1h`; at most 24h.
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// Issuer (`iss`); default: $RAMPART_JWT_ISSUER, else `rampart-dev`, as the service.
    #[arg(long)]
    iss: Option<String>,
    /// Audience (`aud`); default: the first of $RAMPART_JWT_AUDIENCE, else `rampart-dev` (what a
    /// service accepts in development when the setting is unset).
    #[arg(long)]
    aud: Option<String>,
    /// Another claim, `name=value` (repeatable); a value that parses as JSON is used as JSON.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// The environment variable holding the HS256 secret (never pass a secret as a flag value).
    #[arg(long, value_name = "VAR", default_value = "RAMPART_JWT_SECRET", conflicts_with = "secret_file")]
    secret_env: String,
    /// A file holding the HS256 secret (trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

fn secret(args: &TokenArgs) -> anyhow::Result<String> {
    let secret = match &args.secret_file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("reading --secret-file {}", file.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        None => std::env::var(&args.secret_env)
            .with_context(|| format!("set {} to the service's HS256 secret (or use --secret-file)", args.secret_env))?,
    };
    if secret.len() < rampart::auth::MIN_HMAC_SECRET_BYTES {
        bail!("the secret has {} bytes; the service requires at least 32", secret.len());
    }
    Ok(secret)
}

/// Mints the token; it alone goes to stdout.
pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<String> {
    let ttl: Duration = humantime::parse_duration(&args.ttl).with_context(|| format!("--ttl `{}`", args.ttl))?;
    if ttl > MAX_TTL {
        bail!("--ttl {} is over the 24h cap for development tokens", args.ttl);
    }
    if ttl.is_zero() {
        bail!("--ttl must be positive");
    }
    let secret = secret(args)?;
    let iss =
        args.iss.clone().or_else(|| std::env::var("RAMPART_JWT_ISSUER").ok()).unwrap_or_else(|| "rampart-dev".into());
    let aud = args
        .aud
        .clone()
        .or_else(|| {
            std::env::var("RAMPART_JWT_AUDIENCE").ok().and_then(|v| v.split(',').next().map(|a| a.trim().to_owned()))
        })
        .unwrap_or_else(|| rampart::config::DEVELOPMENT_AUDIENCE.into());
    let mut request = rampart::token::TokenRequest::new(&args.sub, &iss, &aud)
        .scopes(args.scope.split(' ').filter(|s| !s.is_empty()))
        .ttl(ttl);
    if !args.roles.is_empty() {
        request = request.roles(&args.roles);
    }
    for claim in &args.claims {
        let (name, value) = claim.split_once('=').with_context(|| format!("--claim `{claim}`: expected NAME=VALUE"))?;
        if name.is_empty() || RESERVED_CLAIMS.contains(&name) {
            bail!("--claim `{name}`: use the dedicated flag (or it is set by the signer)");
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        request = request.claim(name, value);
    }
    request.sign_hs256(secret.as_bytes()).context("signing the token")
}
