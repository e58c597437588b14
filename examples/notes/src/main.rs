//! `cargo run -p notes`: the notes service with embedded defaults.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use rampart::config::{Config, JwtKeys};
use rampart::token::TokenRequest;

mod dev_seal;

#[tokio::main]
async fn main() -> ExitCode {
    // The environment, then `.env` in development, then the notes contract's own default audience
    // (the framework has none in production).
    let config = match Config::from_env_or(notes::contract_default) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    // Audit and log lines go through a bounded queue to stderr or a rotated file
    // (RAMPART_AUDIT_LOG): a stalled destination drops lines, never requests. Kept until exit,
    // so that what is queued is written out.
    let audit_sink = match rampart::audit::install(&config.audit) {
        Ok(sink) => sink,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    rampart::metrics::watch_audit_sink(&audit_sink);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut config: Config) -> anyhow::Result<()> {
    let database_url = config.database_url.clone().unwrap_or_else(|| notes::DEFAULT_DATABASE_URL.to_owned());
    let dev_key_file = if config.seal.generated { dev_seal::key_file(&database_url) } else { None };
    if let Some(file) = &dev_key_file {
        config.seal.keyring = dev_seal::load_or_create(file)?;
    }
    let store = notes::NoteStore::connect(&database_url).await.with_context(|| {
        format!("opening the database {} (set DATABASE_URL)", notes::NoteStore::describe(&database_url))
    })?;
    eprintln!("database: {}", notes::NoteStore::describe(&database_url));
    // Bodies sealed before they were bound to their row are bound now, once, before serving.
    let bound =
        store.bind_unbound_bodies(&config.seal.keyring).await.context("binding old note bodies to their rows")?;
    if bound > 0 {
        eprintln!("bound {bound} note bodies sealed the old way to their rows");
    }
    let app = notes::app(&config, store.clone())?;
    if let (JwtKeys::Secret { generated: true, .. }, Some(secret)) = (&config.jwt.keys, config.jwt.secret_bytes()) {
        let token = TokenRequest::new("dev-user", &config.jwt.issuer, &config.jwt.audiences[0])
            .scopes(["notes:read", "notes:write"])
            .ttl(Duration::from_secs(8 * 3600))
            .sign_hs256(secret)?;
        eprintln!("no RAMPART_JWT_SECRET: using a random key for this run. Dev token (8h, notes:read notes:write):");
        eprintln!("{token}");
    }
    if let Some(introspection) = &config.introspection {
        let local =
            if matches!(config.jwt.keys, JwtKeys::None) { "every access token" } else { "opaque access tokens" };
        eprintln!("{local} introspected at {}", rampart::config::redact_url(introspection.url.as_str()));
    }
    match (&dev_key_file, config.seal.generated) {
        (Some(file), _) => eprintln!(
            "warning: no RAMPART_SEAL_KEY: note bodies are sealed with a development key kept in {} (set RAMPART_SEAL_KEY in production)",
            file.display()
        ),
        (None, true) => eprintln!(
            "warning: no RAMPART_SEAL_KEY: note bodies are sealed with a random key that dies with this process"
        ),
        (None, false) => {}
    }
    let listener = std::net::TcpListener::bind(config.addr).with_context(|| format!("binding {}", config.addr))?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    // /metrics is served apart from the API, on RAMPART_METRICS_ADDR (a loopback port by default).
    if let Some(addr) = config.metrics_addr {
        let bound = rampart::metrics::start(addr).await?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    eprintln!("notes listening on {scheme}://{}", listener.local_addr()?);
    // Head, idle, body and handler deadlines, a connection limit, and a shutdown bounded by
    // RAMPART_SHUTDOWN_GRACE_SECS, over HTTP or HTTPS.
    rampart::serve(listener, app, &config).await?;
    // Every in-flight request has finished: flush and close the database.
    store.close().await;
    eprintln!("notes stopped");
    Ok(())
}
