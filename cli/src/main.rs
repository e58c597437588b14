//! The `rampart` command.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

/// Rampart: secure-by-default axum services.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint a development JWT (HS256) signed with the secret from the environment.
    Token(TokenArgs),
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// The subject (`sub` claim).
    #[arg(long)]
    sub: String,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// A role (repeatable).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Lifetime, such as `15m` or `1h` (at most 24h).
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// Issuer (`iss`).
    #[arg(long, default_value = "rampart-dev")]
    iss: String,
    /// Audience (`aud`).
    #[arg(long, default_value = "notes")]
    aud: String,
    /// The environment variable holding the HS256 secret.
    #[arg(long, default_value = "RAMPART_JWT_SECRET")]
    secret_env: String,
}

fn token(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let ttl: Duration = humantime::parse_duration(&args.ttl).with_context(|| format!("--ttl `{}`", args.ttl))?;
    if ttl > Duration::from_secs(24 * 3600) {
        bail!("--ttl is capped at 24h for development tokens");
    }
    let secret = std::env::var(&args.secret_env)
        .with_context(|| format!("set {} to the service's HS256 secret", args.secret_env))?;
    if secret.len() < rampart::auth::MIN_HMAC_SECRET_BYTES {
        bail!("{} is shorter than 32 bytes; the service would refuse it", args.secret_env);
    }
    let token = rampart::token::TokenRequest::new(&args.sub, &args.iss, &args.aud)
        .scopes(args.scope.split(' ').filter(|s| !s.is_empty()))
        .roles(&args.roles)
        .ttl(ttl)
        .sign_hs256(secret.as_bytes())
        .context("signing the token")?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Token(args) => token(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
