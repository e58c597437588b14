//! Configuration from the environment: every `RAMPART_*` variable is read here and nowhere else.
//!
//! [`Config::from_env`] validates everything and reports every problem at once, each naming the
//! variable and what to change; a service refuses to start rather than run with a weak or
//! inconsistent setting (a short HS secret, a leeway over 5 minutes, `*` CORS with credentials,
//! an unreadable PEM file, a bad URL...).
//!
//! Every secret setting (`RAMPART_JWT_SECRET`, `RAMPART_SEAL_KEY`, `RAMPART_OAUTH_CLIENTS`,
//! `RAMPART_API_KEYS`, `RAMPART_RATE_LIMIT`, `DATABASE_URL`, `RAMPART_INTROSPECTION_CLIENT_SECRET`) may instead be read from a file named
//! by its `_FILE` twin (`RAMPART_JWT_SECRET_FILE=/run/secrets/jwt`), trailing newline dropped;
//! setting both is an error.
//!
//! In development, [`Config::from_env`] also reads a `.env` file in the working directory for
//! what the environment does not set (a variable set in the environment wins); with
//! `RAMPART_ENV=production` in the environment, `.env` is not read.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RAMPART_ENV` | `development` | `production` refuses generated keys and a missing `DATABASE_URL` |
//! | `RAMPART_ADDR` | `127.0.0.1:3000` | listen address |
//! | `RAMPART_JWT_SECRET` | generated (dev) | HS256 secret, raw UTF-8 bytes, >= 32 bytes |
//! | `RAMPART_JWT_PUBLIC_KEY` + `RAMPART_JWT_ALGORITHM` | — | PEM file of the issuer's public key |
//! | `RAMPART_JWKS_URL` | — | the issuer's JWKS |
//! | `RAMPART_INTROSPECTION_URL` | — | an OAuth 2.0 introspection endpoint (RFC 7662): tokens that are not JWTs are checked there (every token, when no key setting is given); `https://`, plain http only for localhost |
//! | `RAMPART_INTROSPECTION_CLIENT_ID` / `_CLIENT_SECRET` | — | this service's client credentials at that endpoint (required with it) |
//! | `RAMPART_INTROSPECTION_CACHE_SECS` / `_NEGATIVE_CACHE_SECS` | `60` / `5` | how long an active answer is used (never past the token's `exp`; `0`: ask every time) / how long a refusal is remembered |
//! | `RAMPART_INTROSPECTION_AUDIENCE` | `required` | an active answer must name one of `RAMPART_JWT_AUDIENCE` in `aud`; `optional` accepts answers without `aud` (only where the server's tokens are all for this service) |
//! | `RAMPART_INTROSPECTION_TIMEOUT_MS` | `2000` | bound on one round trip (50 to 10000); no answer: 503 with `Retry-After`, and the endpoint is left alone for a second |
//! | `RAMPART_JWT_ISSUER` | `rampart-dev` | required `iss` |
//! | `RAMPART_JWT_AUDIENCE` | `rampart-dev` (dev); required in production | accepted `aud` values, comma-separated |
//! | `RAMPART_JWT_LEEWAY` | `30` | seconds, at most 300 |
//! | `RAMPART_MAX_TOKEN_BYTES` | `8192` | largest bearer token |
//! | `RAMPART_TOKEN_CACHE_BYTES` | `33554432` | memory for verified tokens (32 MiB: about 20,000 tokens of 500 bytes); beyond, the least used are evicted one by one; `0` = verify every request |
//! | `RAMPART_ROLES_CLAIM` | `/roles` | JSON pointer to the roles array |
//! | `RAMPART_DPOP` | `allowed` | DPoP-bound tokens (RFC 9449): `allowed` (and plain bearer tokens), `required` (only bound tokens), `off` |
//! | `RAMPART_DPOP_NONCE` | `off` | `required`: every DPoP proof carries a nonce (resource requests; a token endpoint too when built with `TokenEndpoint::with_dpop_nonces`, as the notes service's is) the service issued in the last 5 minutes (RFC 9449 §9; sent in `DPoP-Nonce` with a `use_dpop_nonce` challenge; derived from `RAMPART_SEAL_KEY`, so instances sharing it accept each other's) |
//! | `RAMPART_PUBLIC_URL` | the listen address | the URL clients call, which DPoP proofs name (behind a TLS-terminating proxy, its public URL) |
//! | `RAMPART_API_KEYS` | — | `id:sha256hex:scope scope\|role role;id2:...` (the `\|roles` part is optional; `rampart keygen api-key` prints an entry) |
//! | `RAMPART_OAUTH_CLIENTS` | — | `id:secret:scope1 scope2,id2:...`; a secret may be given as `sha256-<64 hex digits>` of itself; a `:` in a secret is written `%3A` (`%` as `%25`) |
//! | `RAMPART_RATE_LIMIT` | `memory` | `memory` or a `redis://` URL (then rate limits, lockouts, revocations and the DPoP proofs seen are shared by the instances using it) |
//! | `RAMPART_RATE_LIMIT_FAILURE` | `local` | `local`, `open` or `closed` |
//! | `RAMPART_REVOCATION_FAILURE` | `closed` | when the revocation list (Redis) does not answer: `closed` refuses with 503 + `Retry-After`, `open` accepts the verified token unchecked (counted and logged); the store is then left alone for a second |
//! | `RAMPART_RATE_LIMIT_TIMEOUT_MS` | `100` | bound on one Redis round trip |
//! | `RAMPART_RATE_LIMIT_MAX_KEYS` | `1000000` | keys tracked per route in memory |
//! | `RAMPART_RATE_LIMIT_PREFIX` | `rampart` | Redis key prefix (services sharing a Redis use their own) |
//! | `RAMPART_TLS_CERT` / `RAMPART_TLS_KEY` | — | PEM files: serve HTTPS |
//! | `DATABASE_URL` | — (development: the service's default) | the service's database; required in production |
//! | `RAMPART_SEAL_KEY` | generated (dev) | `kid:base64(32 bytes)[,older...]` |
//! | `RAMPART_TRUSTED_PROXIES` | empty | CIDR list |
//! | `RAMPART_FORWARDED_HEADER` | `x-forwarded-for` | the header those proxies write (or `forwarded`) |
//! | `RAMPART_CORS_ORIGINS` / `RAMPART_CORS_CREDENTIALS` | none / `false` | CORS allowlist |
//! | `RAMPART_AUDIT_LOG` | `stderr` | `stderr`, or a file (rotated by size, mode 0600) |
//! | `RAMPART_AUDIT_LOG_MAX_BYTES` / `RAMPART_AUDIT_LOG_KEEP` | `10485760` / `5` | rotation size (at least 65536) and rotated files kept (1 to 1000) |
//! | `RAMPART_METRICS_ADDR` | `127.0.0.1:0` | where `/metrics` is served, apart from the API (`:0`: a free loopback port, printed on start), or `off` |
//! | `RAMPART_LOCKOUT_AUTHN_FAILURES` / `RAMPART_LOCKOUT_AUTHZ_FAILURES` | `20` / `20` | guessed credentials from one client IP or for one OAuth client id (bad signature, unknown `kid`, malformed token, unknown API key, wrong client secret; never an expired or foreign-audience token) / failed authorizations of one subject (403) that lock it; `0` = off |
//! | `RAMPART_LOCKOUT_WINDOW_SECS` / `RAMPART_LOCKOUT_COOLDOWN_SECS` | `60` / `300` | the window the failures are counted in / how long a lock lasts (failing credentials get 429 with `Retry-After`; valid ones are served) |
//! | `RAMPART_BODY_TIMEOUT_SECS` / `RAMPART_HANDLER_TIMEOUT_SECS` | `30` / `30` | the whole request body must arrive within it (else 408) / a handler must answer within it, unless its route says `timeout = "..."` (else 503 with `Retry-After`); 1 to 3600 |
//! | `RAMPART_HEADER_TIMEOUT_SECS` / `RAMPART_IDLE_TIMEOUT_SECS` | `10` / `60` | with [`crate::serve()`]: a request head (and TLS handshake) must arrive within it (1 to 30) / an idle keep-alive connection is closed after it (1 to 60) |
//! | `RAMPART_MAX_CONNECTIONS` / `RAMPART_SHUTDOWN_GRACE_SECS` | `4096` / `30` | with [`crate::serve()`]: connections served at once, more wait in the backlog (when full, connections idle for a second are closed) / how long in-flight requests get on SIGTERM (0 to 300) |
//! | `RAMPART_MAX_CONNECTIONS_PER_IP` | `256` | with [`crate::serve()`]: connections from one client address (IPv6: /64, IPv4-mapped as IPv4) at once, more are closed; trusted proxies are not limited |
//! | `RAMPART_SEND_TIMEOUT_SECS` | `30` | with [`crate::serve()`]: a response ready to go that the client takes none of for this long (it stopped reading, or left an HTTP/2 window at zero) closes the connection (1 to 60) |
//! | `RAMPART_AUDIT_BUFFER_LINES` | `10000` | lines queued for the writer; beyond, lines are dropped and counted, never waited for |
//!
//! # Examples
//!
//! ```
//! use rampart::config::Config;
//!
//! let vars = [("RAMPART_JWT_SECRET", "too-short")];
//! let err = Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
//!     .unwrap_err();
//! assert!(err.to_string().contains("RAMPART_JWT_SECRET"));
//! ```

pub use crate::rate::FailureMode;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{
    Algorithm, ApiKey, ApiKeys, DEFAULT_CACHE_BYTES, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, MAX_LEEWAY,
    MIN_HMAC_SECRET_BYTES, VerificationKey,
};
use crate::client_ip::{ForwardedHeader, TrustedProxies};
use crate::cors::CorsPolicy;
use crate::crypto::Keyring;

/// Where the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Generated keys allowed (and announced).
    Development,
    /// Every key must be configured.
    Production,
}

/// Where JWT verification keys come from.
#[derive(Debug, Clone)]
pub enum JwtKeys {
    /// An HS256 secret (its raw UTF-8 bytes are the key).
    Secret {
        /// The secret.
        secret: SecretString,
        /// Whether it was generated for development (then a dev token is worth printing).
        generated: bool,
    },
    /// A public key in a PEM file.
    PublicKeyPem {
        /// The algorithm the key verifies.
        algorithm: Algorithm,
        /// The key, loaded and checked.
        key: Box<VerificationKey>,
    },
    /// A JWKS URL.
    Jwks {
        /// The URL.
        url: reqwest::Url,
    },
    /// No local verification: `RAMPART_INTROSPECTION_URL` is set and no key is, so every bearer
    /// token is introspected.
    None,
}

/// Token verification settings.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The keys.
    pub keys: JwtKeys,
    /// The required `iss`.
    pub issuer: String,
    /// The accepted `aud` values.
    pub audiences: Vec<String>,
    /// Clock-skew allowance.
    pub leeway: Duration,
    /// Largest token accepted.
    pub max_token_bytes: usize,
    /// The verification cache's byte budget (0: no cache).
    pub token_cache_bytes: u64,
    /// JSON pointer to the roles array.
    pub roles_pointer: String,
}

/// How an OAuth client's secret is configured.
#[derive(Clone)]
pub enum ClientSecret {
    /// The secret itself (at least 16 characters).
    Plain(SecretString),
    /// Its SHA-256 digest (`sha256-<64 hex digits>` in `RAMPART_OAUTH_CLIENTS`), so that the
    /// configuration never holds the secret. Meant for long random secrets: a digest of a short
    /// one is as good as the secret to whoever can try candidates offline.
    Sha256([u8; 32]),
}

/// An OAuth 2.0 client allowed to use the client-credentials grant.
#[derive(Clone)]
pub struct OAuthClient {
    /// The client id.
    pub id: String,
    /// The client secret, or its digest.
    pub secret: ClientSecret,
    /// The scopes it may be granted.
    pub scopes: Vec<String>,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The rate-limit store.
#[derive(Clone, PartialEq, Eq)]
pub enum RateLimitBackend {
    /// In this process.
    Memory,
    /// Shared through Redis.
    Redis(String),
}

/// The TLS certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The seal keyring and whether it was generated.
#[derive(Debug, Clone)]
pub struct SealConfig {
    /// The keys.
    pub keyring: Keyring,
    /// True when no `RAMPART_SEAL_KEY` was set (development): sealed data dies with the process.
    pub generated: bool,
}

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    /// Development or production.
    pub environment: Environment,
    /// Listen address.
    pub addr: SocketAddr,
    /// Token verification.
    pub jwt: JwtConfig,
    /// API keys.
    pub api_keys: ApiKeys,
    /// OAuth clients.
    pub oauth_clients: Vec<OAuthClient>,
    /// Rate-limit store.
    pub rate_limit: RateLimitBackend,
    /// Rate-limit failure mode.
    pub rate_limit_failure: FailureMode,
    /// What happens when the revocation list (in Redis) cannot answer
    /// (`RAMPART_REVOCATION_FAILURE`).
    pub revocation_failure: crate::auth::RevocationFailure,
    /// The bound on one round trip to the shared rate-limit store.
    pub rate_limit_timeout: Duration,
    /// The most keys tracked per route in memory.
    pub rate_limit_max_keys: usize,
    /// The prefix of every Redis key (`RAMPART_RATE_LIMIT_PREFIX`).
    pub rate_limit_prefix: String,
    /// HTTPS, when configured.
    pub tls: Option<TlsFiles>,
    /// `DATABASE_URL`, when set.
    pub database_url: Option<String>,
    /// Keys for data at rest.
    pub seal: SealConfig,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Browser origins allowed.
    pub cors: CorsPolicy,
    /// Where audit and log lines go.
    pub audit: crate::audit::AuditSettings,
    /// Where `/metrics` is served (`RAMPART_METRICS_ADDR`), or `None` when metrics are off.
    pub metrics_addr: Option<SocketAddr>,
    /// Lockout of repeated failures (`RAMPART_LOCKOUT_*`).
    pub lockout: crate::lockout::LockoutPolicy,
    /// The body and handler deadlines (`RAMPART_BODY_TIMEOUT_SECS`, `RAMPART_HANDLER_TIMEOUT_SECS`).
    pub timeouts: crate::timeout::Timeouts,
    /// The connection limits of [`crate::serve()`] (`RAMPART_HEADER_TIMEOUT_SECS`,
    /// `RAMPART_IDLE_TIMEOUT_SECS`, `RAMPART_MAX_CONNECTIONS`, `RAMPART_SHUTDOWN_GRACE_SECS`).
    pub server: crate::timeout::ServerLimits,
    /// DPoP-bound tokens (`RAMPART_DPOP`).
    pub dpop: crate::auth::DpopMode,
    /// Whether DPoP proofs must carry a server nonce (`RAMPART_DPOP_NONCE=required`).
    pub dpop_nonce: bool,
    /// The URL clients call (`RAMPART_PUBLIC_URL`), which DPoP proofs name; unset: the listen
    /// address ([`Config::public_url`]).
    pub public_url: Option<String>,
    /// The introspection endpoint tokens are checked with (`RAMPART_INTROSPECTION_*`), if any.
    pub introspection: Option<IntrospectionSettings>,
}

/// Where access tokens are introspected (RFC 7662), and how answers are kept.
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    /// The endpoint (`RAMPART_INTROSPECTION_URL`).
    pub url: reqwest::Url,
    /// This service's client id there (`RAMPART_INTROSPECTION_CLIENT_ID`).
    pub client_id: String,
    /// Its secret (`RAMPART_INTROSPECTION_CLIENT_SECRET`).
    pub client_secret: SecretString,
    /// How long an active answer is used, never past `exp` (`RAMPART_INTROSPECTION_CACHE_SECS`).
    pub cache_for: Duration,
    /// How long a refusal is remembered (`RAMPART_INTROSPECTION_NEGATIVE_CACHE_SECS`).
    pub refuse_for: Duration,
    /// The bound on one round trip (`RAMPART_INTROSPECTION_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Whether an active answer must name this service in `aud`
    /// (`RAMPART_INTROSPECTION_AUDIENCE=required`, the default, or `optional`).
    pub require_audience: bool,
}

/// A URL as it may be shown: a password in it replaced by `[redacted]`.
///
/// # Examples
///
/// ```
/// use rampart::config::redact_url;
///
/// assert_eq!(redact_url("postgres://app:hunter2@db/notes"), "postgres://app:[redacted]@db/notes");
/// assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

/// Shows every setting, with the passwords of `DATABASE_URL` and the Redis URL redacted (the
/// secrets themselves are `SecretString`s, which never show).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("addr", &self.addr)
            .field("jwt", &self.jwt)
            .field("api_keys", &self.api_keys)
            .field("oauth_clients", &self.oauth_clients)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_failure", &self.rate_limit_failure)
            .field("revocation_failure", &self.revocation_failure)
            .field("rate_limit_timeout", &self.rate_limit_timeout)
            .field("rate_limit_max_keys", &self.rate_limit_max_keys)
            .field("rate_limit_prefix", &self.rate_limit_prefix)
            .field("tls", &self.tls)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("seal", &self.seal)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cors", &self.cors)
            .field("audit", &self.audit)
            .field("metrics_addr", &self.metrics_addr)
            .field("lockout", &self.lockout)
            .field("timeouts", &self.timeouts)
            .field("server", &self.server)
            .field("dpop", &self.dpop)
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl fmt::Debug for RateLimitBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitBackend::Memory => f.write_str("Memory"),
            RateLimitBackend::Redis(url) => f.debug_tuple("Redis").field(&redact_url(url)).finish(),
        }
    }
}

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong and what to change.
    pub message: String,
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<VarError>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for e in &self.0 {
            write!(f, "\n  {}: {}", e.variable, e.message)?;
        }
        Ok(())
    }
}

struct Reader<F> {
    lookup: F,
    errors: Vec<VarError>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn fail(&mut self, variable: &'static str, message: impl Into<String>) {
        self.errors.push(VarError { variable, message: message.into() });
    }

    /// A whole number in `range`, `default` when unset; anything else is reported.
    fn number(&mut self, name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>) -> u64 {
        match self.get(name) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => n,
                _ => {
                    let message =
                        format!("expected a number from {} to {} (default {default})", range.start(), range.end());
                    self.fail(name, message);
                    default
                }
            },
        }
    }
}

impl Config {
    /// Reads and validates the process environment, and in development a `.env` file in the
    /// working directory (see [`Config::from_env_and_dotenv`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] listing every variable at fault (or the `.env` line that does not parse).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_and_dotenv(std::path::Path::new(".env"))
    }

    /// [`Config::from_env`], with the service's own `defaults` for what neither the environment
    /// nor `.env` sets (a service's audience, say).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rampart::config::Config;
    ///
    /// let config = Config::from_env_or(|name| (name == "RAMPART_JWT_AUDIENCE").then(|| "orders".to_owned()));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_env_or(defaults: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_and_dotenv(|name| std::env::var(name).ok(), std::path::Path::new(".env"), defaults)
    }

    /// Reads and validates the process environment, with the variables of the `dotenv` file
    /// (`NAME=value` lines, `#` comments, quotes as in a shell) for those the environment does
    /// not set. The file is optional, and it is not read when the environment says
    /// `RAMPART_ENV=production`: a deployment's settings come from its environment, never from a
    /// file left in the working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let dotenv = dir.path().join(".env");
    /// std::fs::write(&dotenv, "# local settings\nRAMPART_ADDR=127.0.0.1:4000\n").unwrap();
    /// let config = rampart::config::Config::from_env_and_dotenv(&dotenv).unwrap();
    /// # if std::env::var_os("RAMPART_ADDR").is_none() {
    /// assert_eq!(config.addr.to_string(), "127.0.0.1:4000");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] listing every variable at fault, or the `.env` line that does not parse.
    pub fn from_env_and_dotenv(dotenv: &std::path::Path) -> Result<Self, ConfigError> {
        Self::from_lookup_and_dotenv(|name| std::env::var(name).ok(), dotenv, |_| None)
    }

    /// [`Config::from_env_and_dotenv`] with the environment read through `lookup`, and
    /// `defaults` last.
    fn from_lookup_and_dotenv(
        lookup: impl Fn(&str) -> Option<String>,
        dotenv: &std::path::Path,
        defaults: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let production = lookup("RAMPART_ENV").is_some_and(|v| matches!(v.trim(), "production" | "prod"));
        let file = if production { Vec::new() } else { read_dotenv(dotenv)? };
        Self::from_lookup(|name| {
            lookup(name)
                .or_else(|| file.iter().find(|(key, _)| key == name).map(|(_, v)| v.clone()))
                .or_else(|| defaults(name))
        })
    }

    /// Reads and validates variables from `lookup` (tests pass a map).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] listing every variable at fault.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (files, errors) = read_secret_files(&lookup);
        let lookup =
            |name: &str| files.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).or_else(|| lookup(name));
        let mut r = Reader { lookup, errors };

        let environment = match r.get("RAMPART_ENV").as_deref() {
            None | Some("development" | "dev") => Environment::Development,
            Some("production" | "prod") => Environment::Production,
            Some(other) => {
                r.fail("RAMPART_ENV", format!("`{other}` is not `development` or `production`"));
                Environment::Development
            }
        };
        let production = environment == Environment::Production;

        let addr = r.get("RAMPART_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let addr = addr.parse().unwrap_or_else(|_| {
            r.fail("RAMPART_ADDR", format!("`{addr}` is not `ip:port` (for example 127.0.0.1:3000)"));
            SocketAddr::from(([127, 0, 0, 1], 3000))
        });

        let introspection = read_introspection(&mut r);
        let jwt = read_jwt(&mut r, production, introspection.is_some());

        let api_keys = match r.get("RAMPART_API_KEYS") {
            None => ApiKeys::default(),
            Some(spec) => parse_api_keys(&spec).unwrap_or_else(|msg| {
                r.fail("RAMPART_API_KEYS", msg);
                ApiKeys::default()
            }),
        };

        let oauth_clients = match r.get("RAMPART_OAUTH_CLIENTS") {
            None => Vec::new(),
            Some(spec) => parse_oauth_clients(&spec).unwrap_or_else(|msg| {
                r.fail("RAMPART_OAUTH_CLIENTS", msg);
                Vec::new()
            }),
        };

        let rate_limit = match r.get("RAMPART_RATE_LIMIT").as_deref() {
            None | Some("memory") => RateLimitBackend::Memory,
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                if reqwest::Url::parse(url).is_err() {
                    r.fail("RAMPART_RATE_LIMIT", "the Redis URL does not parse (expected redis://host:port/db)");
                }
                RateLimitBackend::Redis(url.to_owned())
            }
            Some(_) => {
                r.fail("RAMPART_RATE_LIMIT", "expected `memory` or a `redis://host:port` URL");
                RateLimitBackend::Memory
            }
        };

        let rate_limit_failure = match r.get("RAMPART_RATE_LIMIT_FAILURE").as_deref() {
            None | Some("local") => FailureMode::Local,
            Some("open") => FailureMode::Open,
            Some("closed") => FailureMode::Closed,
            Some(other) => {
                r.fail("RAMPART_RATE_LIMIT_FAILURE", format!("`{other}` is not `local`, `open` or `closed`"));
                FailureMode::Local
            }
        };

        let revocation_failure = match r.get("RAMPART_REVOCATION_FAILURE").as_deref() {
            None | Some("closed") => crate::auth::RevocationFailure::Closed,
            Some("open") => crate::auth::RevocationFailure::Open,
            Some(other) => {
                r.fail("RAMPART_REVOCATION_FAILURE", format!("`{other}` is not `closed` or `open`"));
                crate::auth::RevocationFailure::Closed
            }
        };

        let rate_limit_timeout = match r.get("RAMPART_RATE_LIMIT_TIMEOUT_MS") {
            None => crate::rate::DEFAULT_REDIS_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (1..=5000).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    r.fail("RAMPART_RATE_LIMIT_TIMEOUT_MS", "expected milliseconds between 1 and 5000 (default 100)");
                    crate::rate::DEFAULT_REDIS_TIMEOUT
                }
            },
        };
        let rate_limit_max_keys = match r.get("RAMPART_RATE_LIMIT_MAX_KEYS") {
            None => crate::rate::DEFAULT_MAX_KEYS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    r.fail("RAMPART_RATE_LIMIT_MAX_KEYS", "expected a positive number of keys (default 1000000)");
                    crate::rate::DEFAULT_MAX_KEYS
                }
            },
        };

        let rate_limit_prefix = match r.get("RAMPART_RATE_LIMIT_PREFIX") {
            None => "rampart".to_owned(),
            Some(v)
                if !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b)) =>
            {
                v
            }
            Some(_) => {
                r.fail("RAMPART_RATE_LIMIT_PREFIX", "expected 1 to 64 of A-Z, a-z, 0-9, `-`, `_`, `:` and `.`");
                "rampart".to_owned()
            }
        };

        let tls = match (r.get("RAMPART_TLS_CERT"), r.get("RAMPART_TLS_KEY")) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (var, path) in [("RAMPART_TLS_CERT", &cert), ("RAMPART_TLS_KEY", &key)] {
                    if let Err(e) = std::fs::metadata(path) {
                        r.fail(var, format!("cannot read `{path}`: {e}"));
                    }
                }
                Some(TlsFiles { cert: cert.into(), key: key.into() })
            }
            (Some(_), None) => {
                r.fail("RAMPART_TLS_KEY", "RAMPART_TLS_CERT is set: also set the PEM private key file");
                None
            }
            (None, Some(_)) => {
                r.fail("RAMPART_TLS_CERT", "RAMPART_TLS_KEY is set: also set the PEM certificate file");
                None
            }
        };

        let seal = match r.get("RAMPART_SEAL_KEY") {
            Some(spec) => SealConfig {
                keyring: Keyring::from_spec(&spec).unwrap_or_else(|e| {
                    r.fail("RAMPART_SEAL_KEY", format!("{e} (expected `kid:base64-of-32-bytes`, newest first)"));
                    Keyring::generate("invalid")
                }),
                generated: false,
            },
            None => {
                if production {
                    r.fail("RAMPART_SEAL_KEY", "required in production: set `kid:base64-of-32-random-bytes`");
                }
                SealConfig { keyring: Keyring::generate("dev"), generated: true }
            }
        };

        let forwarded_header = match r.get("RAMPART_FORWARDED_HEADER").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("x-forwarded-for") => ForwardedHeader::XForwardedFor,
            Some("forwarded") => ForwardedHeader::Forwarded,
            Some(other) => {
                r.fail("RAMPART_FORWARDED_HEADER", format!("`{other}` is not `x-forwarded-for` or `forwarded`"));
                ForwardedHeader::XForwardedFor
            }
        };
        let audit = read_audit_settings(&mut r);
        let lockout = read_lockout_policy(&mut r);
        let (timeouts, server) = read_timeouts(&mut r);
        let metrics_addr = match r.get("RAMPART_METRICS_ADDR") {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            Some(v) if v == "off" => None,
            Some(v) => match v.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    r.fail("RAMPART_METRICS_ADDR", format!("`{v}` is not host:port (e.g. 127.0.0.1:9464), or `off`"));
                    None
                }
            },
        };

        let trusted_proxies = match r.get("RAMPART_TRUSTED_PROXIES") {
            None => TrustedProxies::none(),
            Some(list) => list.parse::<TrustedProxies>().map(|p| p.with_header(forwarded_header)).unwrap_or_else(|e| {
                r.fail("RAMPART_TRUSTED_PROXIES", format!("{e}"));
                TrustedProxies::none()
            }),
        };

        let origins: Vec<String> = r
            .get("RAMPART_CORS_ORIGINS")
            .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        let credentials = match r.get("RAMPART_CORS_CREDENTIALS").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                r.fail("RAMPART_CORS_CREDENTIALS", "expected `true` or `false`");
                false
            }
        };
        let cors = CorsPolicy::allow_origins(origins).with_credentials(credentials);
        if let Err(e) = cors.clone().into_layer() {
            r.fail("RAMPART_CORS_ORIGINS", e.to_string());
        }

        let dpop = match r.get("RAMPART_DPOP").as_deref() {
            None | Some("allowed") => crate::auth::DpopMode::Allowed,
            Some("required") => crate::auth::DpopMode::Required,
            Some("off") => crate::auth::DpopMode::Off,
            Some(_) => {
                r.fail("RAMPART_DPOP", "expected `allowed`, `required` or `off`");
                crate::auth::DpopMode::Allowed
            }
        };
        let dpop_nonce = match r.get("RAMPART_DPOP_NONCE").as_deref() {
            None | Some("off") => false,
            Some("required") if dpop == crate::auth::DpopMode::Off => {
                r.fail("RAMPART_DPOP_NONCE", "nonces are for DPoP proofs: set RAMPART_DPOP=allowed or required too");
                false
            }
            Some("required") => true,
            Some(_) => {
                r.fail("RAMPART_DPOP_NONCE", "expected `required` or `off`");
                false
            }
        };
        let public_url = r.get("RAMPART_PUBLIC_URL").map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url {
            let parsed = reqwest::Url::parse(url);
            let fine = parsed.as_ref().is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if !fine {
                r.fail(
                    "RAMPART_PUBLIC_URL",
                    "expected the absolute http(s) URL clients call, without query (for example https://api.example.com)",
                );
            }
        }

        let database_url = r.get("DATABASE_URL");
        if production && database_url.is_none() {
            r.fail(
                "DATABASE_URL",
                "required in production (postgres://user@host/db, or sqlite:///var/lib/svc/data.db): without it \
                 the data would go to a SQLite file in the working directory",
            );
        }

        if !r.errors.is_empty() {
            return Err(ConfigError(r.errors));
        }
        Ok(Config {
            environment,
            addr,
            jwt,
            api_keys,
            oauth_clients,
            rate_limit,
            rate_limit_failure,
            revocation_failure,
            rate_limit_timeout,
            rate_limit_max_keys,
            rate_limit_prefix,
            tls,
            database_url,
            seal,
            trusted_proxies,
            cors,
            audit,
            metrics_addr,
            lockout,
            timeouts,
            server,
            dpop,
            dpop_nonce,
            public_url,
            introspection,
        })
    }

    /// The URL clients call: `RAMPART_PUBLIC_URL`, else the listen address (`https` with TLS).
    ///
    /// ```
    /// let config = rampart::config::Config::from_lookup(|_| None).unwrap();
    /// assert_eq!(config.public_url(), "http://127.0.0.1:3000");
    /// ```
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("{}://{}", if self.tls.is_some() { "https" } else { "http" }, self.addr),
        }
    }
}

impl Config {
    /// What this configuration allows but a production deployment should not do, one line
    /// each, naming the variable to set, for the service to print at start-up.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::config::Config;
    ///
    /// let vars = [("RAMPART_ADDR", "0.0.0.0:3000")];
    /// let config = Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    ///     .unwrap();
    /// assert!(config.warnings().iter().any(|w| w.contains("RAMPART_TRUSTED_PROXIES")));
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.lockout.authn_failures > 0 && !self.addr.ip().is_loopback() && self.trusted_proxies.is_empty() {
            warnings.push(format!(
                "listening on {} with the lockout on and no RAMPART_TRUSTED_PROXIES: behind a proxy or load \
                 balancer every client has the proxy's address, so one client's guesses lock failing credentials \
                 of all of them; set RAMPART_TRUSTED_PROXIES to the proxies' CIDRs",
                self.addr
            ));
        }
        if self.dpop != crate::auth::DpopMode::Off && self.public_url.is_none() && !self.addr.ip().is_loopback() {
            warnings.push(format!(
                "DPoP proofs are checked against {} (the listen address): behind a proxy, set RAMPART_PUBLIC_URL \
                 to the URL clients call",
                self.public_url()
            ));
        }
        warnings
    }
}

/// The variables of a `.env` file; none when there is no such file.
fn read_dotenv(path: &std::path::Path) -> Result<Vec<(String, String)>, ConfigError> {
    let fail = |message: String| ConfigError(vec![VarError { variable: ".env", message }]);
    let lines = match dotenvy::from_path_iter(path) {
        Ok(lines) => lines,
        Err(dotenvy::Error::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(fail(format!("{}: {error}", path.display()))),
    };
    lines
        .map(|line| {
            line.map_err(|error| match error {
                // The parser's message quotes the line, which may hold a secret: say where only.
                dotenvy::Error::LineParse(line, _) => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let number = text.lines().position(|l| l.contains(line.trim())).map_or(0, |i| i + 1);
                    fail(format!("{} line {number} does not parse: write NAME=value", path.display()))
                }
                other => fail(format!("{}: {other}", path.display())),
            })
        })
        .collect()
}

/// The audience accepted in development when `RAMPART_JWT_AUDIENCE` is unset: the development
/// issuer's own name, which no real token carries (production requires the setting).
pub const DEVELOPMENT_AUDIENCE: &str = "rampart-dev";

fn read_jwt<F: Fn(&str) -> Option<String>>(r: &mut Reader<F>, production: bool, introspected: bool) -> JwtConfig {
    let secret = r.get("RAMPART_JWT_SECRET");
    let pem = r.get("RAMPART_JWT_PUBLIC_KEY");
    let jwks = r.get("RAMPART_JWKS_URL");
    let configured = [secret.is_some(), pem.is_some(), jwks.is_some()].iter().filter(|b| **b).count();
    if configured > 1 {
        r.fail("RAMPART_JWT_SECRET", "set only one of RAMPART_JWT_SECRET, RAMPART_JWT_PUBLIC_KEY and RAMPART_JWKS_URL");
    }
    let keys = if let Some(secret) = secret {
        check_secret(r, &secret);
        JwtKeys::Secret { secret: SecretString::from(secret), generated: false }
    } else if let Some(path) = pem {
        let algorithm = match r.get("RAMPART_JWT_ALGORITHM").as_deref().map(parse_algorithm) {
            Some(Some(alg)) if !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => alg,
            _ => {
                r.fail(
                    "RAMPART_JWT_ALGORITHM",
                    "with RAMPART_JWT_PUBLIC_KEY, set the key's algorithm: RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA",
                );
                Algorithm::RS256
            }
        };
        match std::fs::read(&path) {
            Ok(bytes) => match VerificationKey::from_pem(algorithm, &bytes) {
                Ok(key) => JwtKeys::PublicKeyPem { algorithm, key: Box::new(key) },
                Err(e) => {
                    r.fail("RAMPART_JWT_PUBLIC_KEY", format!("`{path}`: {e}"));
                    dev_secret()
                }
            },
            Err(e) => {
                r.fail("RAMPART_JWT_PUBLIC_KEY", format!("cannot read `{path}`: {e}"));
                dev_secret()
            }
        }
    } else if let Some(url) = jwks {
        match reqwest::Url::parse(&url) {
            Ok(url) if url.scheme() == "https" || url.host_str().is_some_and(is_loopback_host) => JwtKeys::Jwks { url },
            Ok(_) => {
                r.fail("RAMPART_JWKS_URL", "use an https:// URL (plain http only for localhost)");
                dev_secret()
            }
            Err(e) => {
                r.fail("RAMPART_JWKS_URL", format!("not a URL: {e}"));
                dev_secret()
            }
        }
    } else if introspected {
        JwtKeys::None
    } else {
        if production {
            r.fail(
                "RAMPART_JWT_SECRET",
                "required in production (or RAMPART_JWT_PUBLIC_KEY / RAMPART_JWKS_URL / RAMPART_INTROSPECTION_URL)",
            );
        }
        dev_secret()
    };

    let issuer = r.get("RAMPART_JWT_ISSUER").unwrap_or_else(|| "rampart-dev".into());
    let audiences: Vec<String> = match r.get("RAMPART_JWT_AUDIENCE") {
        Some(list) => {
            let audiences: Vec<String> =
                list.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
            if audiences.is_empty() {
                r.fail("RAMPART_JWT_AUDIENCE", "name at least one audience");
            }
            audiences
        }
        None if production => {
            r.fail(
                "RAMPART_JWT_AUDIENCE",
                "required in production: the `aud` value your identity provider puts in this API's tokens (comma-separated for several)",
            );
            Vec::new()
        }
        None => vec![DEVELOPMENT_AUDIENCE.to_owned()],
    };
    let leeway = match r.get("RAMPART_JWT_LEEWAY") {
        None => DEFAULT_LEEWAY,
        Some(v) => match v.trim_end_matches('s').parse::<u64>() {
            Ok(secs) if Duration::from_secs(secs) <= MAX_LEEWAY => Duration::from_secs(secs),
            Ok(secs) => {
                r.fail(
                    "RAMPART_JWT_LEEWAY",
                    format!("{secs} s is over the 300 s cap; clocks that far apart need fixing"),
                );
                DEFAULT_LEEWAY
            }
            Err(_) => {
                r.fail("RAMPART_JWT_LEEWAY", format!("`{v}` is not a number of seconds"));
                DEFAULT_LEEWAY
            }
        },
    };
    let max_token_bytes = match r.get("RAMPART_MAX_TOKEN_BYTES") {
        None => DEFAULT_MAX_TOKEN_BYTES,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (256..=65536).contains(&n) => n,
            _ => {
                r.fail("RAMPART_MAX_TOKEN_BYTES", "expected a byte count between 256 and 65536");
                DEFAULT_MAX_TOKEN_BYTES
            }
        },
    };
    // Up to 64 GiB: more is a typo, not a cache.
    let token_cache_bytes = r.number("RAMPART_TOKEN_CACHE_BYTES", DEFAULT_CACHE_BYTES, 0..=1 << 36);
    let roles_pointer = r.get("RAMPART_ROLES_CLAIM").unwrap_or_else(|| "/roles".into());
    if !roles_pointer.starts_with('/') {
        r.fail("RAMPART_ROLES_CLAIM", "expected a JSON pointer such as `/roles` or `/realm_access/roles`");
    }
    JwtConfig { keys, issuer, audiences, leeway, max_token_bytes, token_cache_bytes, roles_pointer }
}

fn read_introspection<F: Fn(&str) -> Option<String>>(r: &mut Reader<F>) -> Option<IntrospectionSettings> {
    let id = r.get("RAMPART_INTROSPECTION_CLIENT_ID");
    let secret = r.get("RAMPART_INTROSPECTION_CLIENT_SECRET");
    let cache_for = r.number("RAMPART_INTROSPECTION_CACHE_SECS", 60, 0..=3600);
    let refuse_for = r.number("RAMPART_INTROSPECTION_NEGATIVE_CACHE_SECS", 5, 0..=300);
    let timeout = r.number("RAMPART_INTROSPECTION_TIMEOUT_MS", 2000, 50..=10_000);
    let require_audience = match r.get("RAMPART_INTROSPECTION_AUDIENCE").as_deref() {
        None | Some("required") => true,
        Some("optional") => false,
        Some(_) => {
            r.fail("RAMPART_INTROSPECTION_AUDIENCE", "expected `required` (the default) or `optional`");
            true
        }
    };
    let Some(url) = r.get("RAMPART_INTROSPECTION_URL") else {
        if id.is_some() || secret.is_some() {
            r.fail("RAMPART_INTROSPECTION_URL", "the introspection client is set: also set the endpoint's URL");
        }
        return None;
    };
    let url = match reqwest::Url::parse(&url) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            r.fail(
                "RAMPART_INTROSPECTION_URL",
                "put no credentials in the URL: set RAMPART_INTROSPECTION_CLIENT_ID and _CLIENT_SECRET",
            );
            return None;
        }
        Ok(url)
            if url.scheme() == "https" || (url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host)) =>
        {
            url
        }
        Ok(_) => {
            r.fail("RAMPART_INTROSPECTION_URL", "use an https:// URL (plain http only for localhost)");
            return None;
        }
        Err(e) => {
            r.fail("RAMPART_INTROSPECTION_URL", format!("not a URL: {e}"));
            return None;
        }
    };
    let (Some(client_id), Some(secret)) = (id, secret) else {
        r.fail(
            "RAMPART_INTROSPECTION_CLIENT_ID",
            "the introspection endpoint authenticates this service: set RAMPART_INTROSPECTION_CLIENT_ID and \
             RAMPART_INTROSPECTION_CLIENT_SECRET (or _SECRET_FILE) to its client credentials there",
        );
        return None;
    };
    Some(IntrospectionSettings {
        url,
        client_id,
        client_secret: SecretString::from(secret),
        cache_for: Duration::from_secs(cache_for),
        refuse_for: Duration::from_secs(refuse_for),
        timeout: Duration::from_millis(timeout),
        require_audience,
    })
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) || host == "[::1]"
}

fn check_secret<F: Fn(&str) -> Option<String>>(r: &mut Reader<F>, secret: &str) {
    if secret.len() < MIN_HMAC_SECRET_BYTES {
        r.fail(
            "RAMPART_JWT_SECRET",
            format!(
                "the secret has {} bytes; use at least {MIN_HMAC_SECRET_BYTES} random bytes (`rampart keygen hs256`)",
                secret.len()
            ),
        );
        return;
    }
    let mut distinct: Vec<u8> = secret.bytes().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        r.fail("RAMPART_JWT_SECRET", "the secret repeats a few characters; use random bytes (`rampart keygen hs256`)");
    }
}

fn dev_secret() -> JwtKeys {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    JwtKeys::Secret { secret: SecretString::from(secret), generated: true }
}

/// Parses a JWS algorithm name (`RS256`, `EdDSA`, ...).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    name.parse().ok()
}

/// `RAMPART_API_KEYS`: `id:sha256hex:scope scope|role role`, entries separated by `;`. Scopes
/// may contain `:` (`notes:read`), so the roles follow a `|`.
fn parse_api_keys(spec: &str) -> Result<ApiKeys, String> {
    let mut keys = ApiKeys::default();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, ':');
        let (Some(id), Some(hash)) = (parts.next(), parts.next()) else {
            return Err("each key is `id:sha256hex:scope scope|role role`, separated by `;`".into());
        };
        let rest = parts.next().unwrap_or("");
        let (scopes, roles) = rest.split_once('|').unwrap_or((rest, ""));
        if roles.contains('|') {
            return Err(format!("key `{id}`: one `|` separates the scopes from the roles"));
        }
        let words = |list: &'_ str| list.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let key = ApiKey::from_sha256_hex(id, hash, words(scopes)).map_err(|e| format!("key `{id}`: {e}"))?;
        keys = keys.with(key.with_roles(words(roles)));
    }
    Ok(keys)
}

/// `RAMPART_LOCKOUT_*`: thresholds (0 = off) and durations in seconds.
fn read_lockout_policy<F: Fn(&str) -> Option<String>>(r: &mut Reader<F>) -> crate::lockout::LockoutPolicy {
    let defaults = crate::lockout::LockoutPolicy::default();
    let authn = r.number("RAMPART_LOCKOUT_AUTHN_FAILURES", u64::from(defaults.authn_failures), 0..=1_000_000);
    let authz = r.number("RAMPART_LOCKOUT_AUTHZ_FAILURES", u64::from(defaults.authz_failures), 0..=1_000_000);
    let window = r.number("RAMPART_LOCKOUT_WINDOW_SECS", defaults.window.as_secs(), 1..=86_400);
    let cooldown = r.number("RAMPART_LOCKOUT_COOLDOWN_SECS", defaults.cooldown.as_secs(), 1..=86_400);
    crate::lockout::LockoutPolicy {
        authn_failures: u32::try_from(authn).unwrap_or(u32::MAX),
        authz_failures: u32::try_from(authz).unwrap_or(u32::MAX),
        window: Duration::from_secs(window),
        cooldown: Duration::from_secs(cooldown),
    }
}

/// The request and connection deadlines, and the connection limit.
fn read_timeouts<F: Fn(&str) -> Option<String>>(
    r: &mut Reader<F>,
) -> (crate::timeout::Timeouts, crate::timeout::ServerLimits) {
    use crate::timeout::ServerLimits;
    use crate::timeout::Timeouts;
    let (t, s) = (Timeouts::default(), ServerLimits::default());
    let secs = |r: &mut Reader<F>, name, default: Duration, range| {
        Duration::from_secs(r.number(name, default.as_secs(), range))
    };
    let timeouts = Timeouts {
        body: secs(r, "RAMPART_BODY_TIMEOUT_SECS", t.body, 1..=3600),
        handler: secs(r, "RAMPART_HANDLER_TIMEOUT_SECS", t.handler, 1..=3600),
    };
    let max_connections = r.number("RAMPART_MAX_CONNECTIONS", s.max_connections as u64, 1..=1_000_000);
    let per_ip = r.number("RAMPART_MAX_CONNECTIONS_PER_IP", s.max_connections_per_ip as u64, 1..=1_000_000);
    let server = ServerLimits {
        header_timeout: secs(r, "RAMPART_HEADER_TIMEOUT_SECS", s.header_timeout, 1..=30),
        idle_timeout: secs(r, "RAMPART_IDLE_TIMEOUT_SECS", s.idle_timeout, 1..=60),
        send_timeout: secs(r, "RAMPART_SEND_TIMEOUT_SECS", s.send_timeout, 1..=60),
        max_connections: usize::try_from(max_connections).unwrap_or(s.max_connections),
        max_connections_per_ip: usize::try_from(per_ip).unwrap_or(s.max_connections_per_ip),
        shutdown_grace: secs(r, "RAMPART_SHUTDOWN_GRACE_SECS", s.shutdown_grace, 0..=300),
    };
    (timeouts, server)
}

/// `RAMPART_AUDIT_*`: the audit sink.
fn read_audit_settings<F: Fn(&str) -> Option<String>>(r: &mut Reader<F>) -> crate::audit::AuditSettings {
    use crate::audit::{AuditOutput, AuditSettings, DEFAULT_BUFFER_LINES, DEFAULT_KEEP, DEFAULT_MAX_BYTES};
    let max_bytes = r.number("RAMPART_AUDIT_LOG_MAX_BYTES", DEFAULT_MAX_BYTES, 65_536..=u64::MAX);
    let keep = r.number("RAMPART_AUDIT_LOG_KEEP", DEFAULT_KEEP as u64, 1..=1000) as usize;
    let buffer_lines = r.number("RAMPART_AUDIT_BUFFER_LINES", DEFAULT_BUFFER_LINES as u64, 1..=10_000_000) as usize;
    let output = match r.get("RAMPART_AUDIT_LOG") {
        None => AuditOutput::Stderr,
        Some(v) if v == "stderr" => AuditOutput::Stderr,
        Some(v) => AuditOutput::File { path: PathBuf::from(v), max_bytes, keep },
    };
    AuditSettings { output, buffer_lines }
}

/// The settings that hold secrets; each may instead name a file holding it, in `NAME_FILE`
/// (container and orchestrator secrets, `/run/secrets/...`).
pub const SECRET_SETTINGS: [&str; 7] = [
    "RAMPART_JWT_SECRET",
    "RAMPART_INTROSPECTION_CLIENT_SECRET",
    "RAMPART_SEAL_KEY",
    "RAMPART_OAUTH_CLIENTS",
    "RAMPART_API_KEYS",
    "RAMPART_RATE_LIMIT",
    "DATABASE_URL",
];

/// The values of the `NAME_FILE` twins that are set, read from their files (trailing newlines
/// dropped), and the problems: both twins set, or a file that cannot be read.
fn read_secret_files(lookup: &impl Fn(&str) -> Option<String>) -> (Vec<(&'static str, String)>, Vec<VarError>) {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    let mut fail = |variable: &'static str, message: String| errors.push(VarError { variable, message });
    for (name, file_name) in SECRET_SETTINGS.iter().zip(SECRET_FILE_SETTINGS) {
        let Some(path) = lookup(file_name).filter(|p| !p.trim().is_empty()) else { continue };
        if lookup(name).is_some_and(|v| !v.trim().is_empty()) {
            fail(file_name, format!("set either {name} or {file_name}, not both"));
            continue;
        }
        match std::fs::read_to_string(path.trim()) {
            Ok(text) => values.push((*name, text.trim_end_matches(['\n', '\r']).to_owned())),
            // The path is not secret; the file's contents never appear in a message.
            Err(e) => fail(file_name, format!("cannot read `{}`: {e}", path.trim())),
        }
    }
    (values, errors)
}

/// `NAME_FILE` for each of [`SECRET_SETTINGS`].
const SECRET_FILE_SETTINGS: [&str; 7] = [
    "RAMPART_JWT_SECRET_FILE",
    "RAMPART_INTROSPECTION_CLIENT_SECRET_FILE",
    "RAMPART_SEAL_KEY_FILE",
    "RAMPART_OAUTH_CLIENTS_FILE",
    "RAMPART_API_KEYS_FILE",
    "RAMPART_RATE_LIMIT_FILE",
    "DATABASE_URL_FILE",
];

fn parse_oauth_clients(spec: &str) -> Result<Vec<OAuthClient>, String> {
    let mut clients: Vec<OAuthClient> = Vec::new();
    // Separated by `,` or by line breaks (one client per line in RAMPART_OAUTH_CLIENTS_FILE).
    for entry in spec.split([',', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, ':');
        let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
            return Err("each client is `id:secret:scope1 scope2`, separated by `,` or a line break".into());
        };
        if id.is_empty() || clients.iter().any(|c| c.id == id) {
            return Err(format!("client id `{id}` is empty or appears twice"));
        }
        let secret = match secret.strip_prefix("sha256-") {
            Some(hex) => ClientSecret::Sha256(parse_sha256_hex(hex).ok_or_else(|| {
                format!(
                    "the digest of client `{id}` is not 64 hex digits (`sha256-` then `printf %s SECRET | sha256sum`)"
                )
            })?),
            // `:` ends the secret: one inside it is written `%3A` (and `%` as `%25`).
            None => {
                let decoded = percent_encoding::percent_decode_str(secret)
                    .decode_utf8()
                    .map_err(|_| format!("the secret of client `{id}` is not UTF-8 once its `%XX` are decoded"))?;
                if decoded.chars().count() < 16 {
                    return Err(format!(
                        "the secret of client `{id}` is under 16 characters; use a long random secret"
                    ));
                }
                ClientSecret::Plain(SecretString::from(decoded.into_owned()))
            }
        };
        let scopes: Vec<String> =
            parts.next().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        // A secret with a raw `:` is cut there and its tail read as the first scope: such a scope
        // (two `:` and not a URI or URN) is refused rather than granted.
        if let Some(first) = scopes.first()
            && first.matches(':').count() >= 2
            && !first.starts_with("urn:")
            && !first.contains("://")
        {
            // The would-be scope is not echoed: it may be the tail of the secret.
            return Err(format!(
                "the first scope of client `{id}` has two `:` (not shown: it may be the tail of its secret); \
                 if the secret contains `:`, write each as `%3A` (`id:secret:scope1 scope2`)"
            ));
        }
        clients.push(OAuthClient { id: id.to_owned(), secret, scopes });
    }
    Ok(clients)
}

/// 32 bytes from 64 hex digits.
fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}

impl JwtConfig {
    /// The secret's bytes, when the keys are an HS256 secret (used to mint dev tokens).
    pub fn secret_bytes(&self) -> Option<&[u8]> {
        match &self.keys {
            JwtKeys::Secret { secret, .. } => Some(secret.expose_secret().as_bytes()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn errors_for(vars: &[(&str, &str)]) -> Vec<&'static str> {
        config(vars).unwrap_err().0.into_iter().map(|e| e.variable).collect()
    }

    #[test]
    fn defaults_are_development_with_generated_keys() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert!(matches!(c.jwt.keys, JwtKeys::Secret { generated: true, .. }));
        assert!(c.seal.generated);
        assert_eq!(c.jwt.issuer, "rampart-dev");
        assert_eq!(c.jwt.audiences, ["rampart-dev"]);
        assert_eq!(c.jwt.leeway, Duration::from_secs(30));
        assert_eq!(c.jwt.token_cache_bytes, DEFAULT_CACHE_BYTES);
    }

    #[test]
    fn the_token_cache_budget_is_bytes_zero_for_none() {
        assert_eq!(config(&[("RAMPART_TOKEN_CACHE_BYTES", "0")]).unwrap().jwt.token_cache_bytes, 0);
        assert_eq!(config(&[("RAMPART_TOKEN_CACHE_BYTES", "1048576")]).unwrap().jwt.token_cache_bytes, 1 << 20);
        let err = config(&[("RAMPART_TOKEN_CACHE_BYTES", "32MiB")]).unwrap_err().to_string();
        assert!(
            err.contains("RAMPART_TOKEN_CACHE_BYTES: expected a number from 0 to 68719476736 (default 33554432)"),
            "{err}"
        );
    }

    #[test]
    fn each_bad_setting_names_its_variable() {
        assert_eq!(errors_for(&[("RAMPART_JWT_SECRET", "short")]), ["RAMPART_JWT_SECRET"]);
        assert_eq!(errors_for(&[("RAMPART_JWT_SECRET", &"a".repeat(40))]), ["RAMPART_JWT_SECRET"]);
        assert_eq!(errors_for(&[("RAMPART_JWT_LEEWAY", "301")]), ["RAMPART_JWT_LEEWAY"]);
        assert_eq!(errors_for(&[("RAMPART_ADDR", "nope")]), ["RAMPART_ADDR"]);
        assert_eq!(errors_for(&[("RAMPART_RATE_LIMIT", "memcached://x")]), ["RAMPART_RATE_LIMIT"]);
        assert_eq!(errors_for(&[("RAMPART_RATE_LIMIT_FAILURE", "maybe")]), ["RAMPART_RATE_LIMIT_FAILURE"]);
        assert_eq!(errors_for(&[("RAMPART_TLS_CERT", "/nonexistent.pem")]), ["RAMPART_TLS_KEY"]);
        assert_eq!(
            errors_for(&[("RAMPART_CORS_ORIGINS", "*"), ("RAMPART_CORS_CREDENTIALS", "true")]),
            ["RAMPART_CORS_ORIGINS"]
        );
        assert_eq!(errors_for(&[("RAMPART_JWKS_URL", "http://idp.example/jwks")]), ["RAMPART_JWKS_URL"]);
        assert_eq!(
            errors_for(&[("RAMPART_JWT_PUBLIC_KEY", "/nonexistent.pem")]),
            ["RAMPART_JWT_ALGORITHM", "RAMPART_JWT_PUBLIC_KEY"]
        );
        assert_eq!(errors_for(&[("RAMPART_TRUSTED_PROXIES", "10.0.0.0/33")]), ["RAMPART_TRUSTED_PROXIES"]);
        assert_eq!(errors_for(&[("RAMPART_OAUTH_CLIENTS", "app:short:notes:read")]), ["RAMPART_OAUTH_CLIENTS"]);
        let hash = "ab".repeat(32);
        assert_eq!(errors_for(&[("RAMPART_API_KEYS", &format!("ops:{hash}:a|b|c"))]), ["RAMPART_API_KEYS"]);
        assert_eq!(errors_for(&[("RAMPART_API_KEYS", "ops:abcd:notes:read|admin")]), ["RAMPART_API_KEYS"]);
        assert!(config(&[("RAMPART_API_KEYS", &format!("ops:{hash}:notes:read notes:write|admin ops"))]).is_ok());
    }

    #[test]
    fn a_dotenv_file_fills_in_what_the_environment_does_not_set_in_development_only() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "# local\nRAMPART_ADDR=127.0.0.1:4000\nRAMPART_JWT_ISSUER=\"from-the-file\"\n")
            .unwrap();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let config =
            Config::from_lookup_and_dotenv(env(&[("RAMPART_ADDR", "127.0.0.1:5000")]), &dotenv, |_| None).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:5000", "the environment wins");
        assert_eq!(config.jwt.issuer, "from-the-file");
        // No file: the defaults.
        let none = Config::from_lookup_and_dotenv(env(&[]), &dir.path().join("missing.env"), |_| None).unwrap();
        assert_eq!(none.addr.to_string(), "127.0.0.1:3000");
        // Production never reads it (here: it would have set the issuer).
        let production = Config::from_lookup_and_dotenv(env(&[("RAMPART_ENV", "production")]), &dotenv, |_| None);
        assert!(production.unwrap_err().0.iter().all(|e| e.variable != ".env"));

        // A line that does not parse names the file and line, never the line's text.
        std::fs::write(&dotenv, "RAMPART_ADDR=127.0.0.1:4000\nRAMPART_JWT_SECRET='s3cr3t-value\n").unwrap();
        let error = Config::from_lookup_and_dotenv(env(&[]), &dotenv, |_| None).unwrap_err();
        assert_eq!(error.0.len(), 1);
        assert_eq!(error.0[0].variable, ".env");
        assert_eq!(error.0[0].message, format!("{} line 2 does not parse: write NAME=value", dotenv.display()));
    }

    #[test]
    fn production_requires_real_keys() {
        assert_eq!(
            errors_for(&[("RAMPART_ENV", "production")]),
            ["RAMPART_JWT_SECRET", "RAMPART_JWT_AUDIENCE", "RAMPART_SEAL_KEY", "DATABASE_URL"]
        );
    }

    #[test]
    fn the_audience_has_no_example_default_and_production_names_it() {
        let err = config(&[("RAMPART_ENV", "production")]).unwrap_err().to_string();
        assert!(
            err.contains("RAMPART_JWT_AUDIENCE: required in production: the `aud` value your identity provider"),
            "{err}"
        );
        assert_eq!(
            config(&[("RAMPART_JWT_AUDIENCE", "orders, billing")]).unwrap().jwt.audiences,
            ["orders", "billing"]
        );
        assert_eq!(errors_for(&[("RAMPART_JWT_AUDIENCE", " , ")]), ["RAMPART_JWT_AUDIENCE"]);
    }

    #[test]
    fn an_introspection_endpoint_needs_its_client_and_replaces_the_dev_key() {
        let url = ("RAMPART_INTROSPECTION_URL", "https://idp.example/oauth/introspect");
        let id = ("RAMPART_INTROSPECTION_CLIENT_ID", "orders-api");
        let secret = ("RAMPART_INTROSPECTION_CLIENT_SECRET", "a-long-random-client-secret");
        let err = config(&[url]).unwrap_err().to_string();
        assert!(
            err.contains("RAMPART_INTROSPECTION_CLIENT_ID: the introspection endpoint authenticates this service"),
            "{err}"
        );
        assert_eq!(errors_for(&[id, secret]), ["RAMPART_INTROSPECTION_URL"]);
        let plain = ("RAMPART_INTROSPECTION_URL", "http://idp.example/oauth/introspect");
        assert_eq!(errors_for(&[plain, id, secret]), ["RAMPART_INTROSPECTION_URL"]);
        let with_password = ("RAMPART_INTROSPECTION_URL", "https://api:hunter2@idp.example/oauth/introspect");
        let err = config(&[with_password, id, secret]).unwrap_err().to_string();
        assert!(err.contains("put no credentials in the URL") && !err.contains("hunter2"), "{err}");
        assert_eq!(
            errors_for(&[url, id, secret, ("RAMPART_INTROSPECTION_AUDIENCE", "maybe")]),
            ["RAMPART_INTROSPECTION_AUDIENCE"]
        );
        assert_eq!(
            errors_for(&[url, id, secret, ("RAMPART_INTROSPECTION_TIMEOUT_MS", "0")]),
            ["RAMPART_INTROSPECTION_TIMEOUT_MS"]
        );

        // With no key setting, nothing is verified locally: no generated key, even in development,
        // and production needs no JWT key.
        let c = config(&[url, id, secret, ("RAMPART_INTROSPECTION_NEGATIVE_CACHE_SECS", "0")]).unwrap();
        assert!(matches!(c.jwt.keys, JwtKeys::None));
        let settings = c.introspection.unwrap();
        assert_eq!((settings.cache_for, settings.refuse_for), (Duration::from_secs(60), Duration::ZERO));
        assert_eq!(settings.timeout, Duration::from_secs(2));
        let production = [
            ("RAMPART_ENV", "production"),
            ("RAMPART_JWT_AUDIENCE", "orders"),
            ("RAMPART_SEAL_KEY", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            ("DATABASE_URL", "postgres://db/orders"),
        ];
        let vars: Vec<_> = production.iter().copied().chain([url, id, secret]).collect();
        assert!(config(&vars).is_ok_and(|c| matches!(c.jwt.keys, JwtKeys::None)));
        // With a key, JWTs are verified here and only opaque tokens are introspected.
        let keyed =
            config(&[url, id, secret, ("RAMPART_JWT_SECRET", "0123456789abcdefghijklmnopqrstuvwxyzABCD")]).unwrap();
        assert!(matches!(keyed.jwt.keys, JwtKeys::Secret { generated: false, .. }));
    }

    #[test]
    fn dpop_nonces_are_off_unless_required_and_need_dpop() {
        assert!(!config(&[]).unwrap().dpop_nonce);
        assert!(config(&[("RAMPART_DPOP_NONCE", "required")]).unwrap().dpop_nonce);
        assert_eq!(errors_for(&[("RAMPART_DPOP_NONCE", "sometimes")]), ["RAMPART_DPOP_NONCE"]);
        let err = config(&[("RAMPART_DPOP_NONCE", "required"), ("RAMPART_DPOP", "off")]).unwrap_err().to_string();
        assert!(err.contains("RAMPART_DPOP_NONCE: nonces are for DPoP proofs: set RAMPART_DPOP=allowed"), "{err}");
    }

    #[test]
    fn all_problems_are_reported_together() {
        let err = config(&[("RAMPART_JWT_SECRET", "short"), ("RAMPART_JWT_LEEWAY", "9999")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("RAMPART_JWT_SECRET: the secret has 5 bytes"), "{text}");
        assert!(text.contains("RAMPART_JWT_LEEWAY: 9999 s is over the 300 s cap"), "{text}");
        assert!(!text.contains("short"), "a secret must never be echoed: {text}");
    }

    #[test]
    fn the_audit_sink_is_stderr_by_default_or_a_rotated_file() {
        use crate::audit::{AuditOutput, DEFAULT_BUFFER_LINES};
        let c = config(&[]).unwrap();
        assert_eq!(c.audit.output, AuditOutput::Stderr);
        assert_eq!(c.audit.buffer_lines, DEFAULT_BUFFER_LINES);
        let c = config(&[("RAMPART_AUDIT_LOG", "/var/log/svc/audit.log"), ("RAMPART_AUDIT_LOG_KEEP", "3")]).unwrap();
        assert_eq!(
            c.audit.output,
            AuditOutput::File { path: "/var/log/svc/audit.log".into(), max_bytes: 10 * 1024 * 1024, keep: 3 }
        );
        for (name, value) in [
            ("RAMPART_AUDIT_LOG_MAX_BYTES", "1000"),
            ("RAMPART_AUDIT_LOG_KEEP", "0"),
            ("RAMPART_AUDIT_BUFFER_LINES", "lots"),
        ] {
            assert_eq!(errors_for(&[(name, value)]), [name], "{name}={value}");
        }
    }

    #[test]
    fn secrets_come_from_files_named_by_their_file_twins() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("jwt");
        std::fs::write(&secret, "0123456789abcdefghijklmnopqrstuvwxyz-file\n").unwrap();
        let path = secret.display().to_string();
        let c = config(&[("RAMPART_JWT_SECRET_FILE", path.as_str())]).unwrap();
        assert_eq!(c.jwt.secret_bytes(), Some(&b"0123456789abcdefghijklmnopqrstuvwxyz-file"[..]));
        assert!(matches!(c.jwt.keys, JwtKeys::Secret { generated: false, .. }));
        // Both twins, a missing file: each names the variable, never the secret.
        let both = [("RAMPART_JWT_SECRET", "0123456789abcdefghijklmnopqrstuvwxyz"), ("RAMPART_JWT_SECRET_FILE", &path)];
        assert_eq!(errors_for(&both), ["RAMPART_JWT_SECRET_FILE"]);
        let err = config(&[("RAMPART_SEAL_KEY_FILE", "/nonexistent/seal")]).unwrap_err();
        assert_eq!(err.0[0].variable, "RAMPART_SEAL_KEY_FILE");
        assert!(err.to_string().contains("/nonexistent/seal"));
        // A file's contents are checked like the variable's.
        std::fs::write(&secret, "short").unwrap();
        assert_eq!(errors_for(&[("RAMPART_JWT_SECRET_FILE", path.as_str())]), ["RAMPART_JWT_SECRET"]);
        assert!(!config(&[("RAMPART_JWT_SECRET_FILE", path.as_str())]).unwrap_err().to_string().contains("short"));
    }

    #[test]
    fn oauth_client_secrets_may_be_digests() {
        let digest = "sha256-".to_owned() + &"ab".repeat(32);
        let spec = format!("app:{digest}:notes:read");
        let c = config(&[("RAMPART_OAUTH_CLIENTS", spec.as_str())]).unwrap();
        assert!(matches!(c.oauth_clients[0].secret, ClientSecret::Sha256(d) if d == [0xab; 32]));
        assert_eq!(errors_for(&[("RAMPART_OAUTH_CLIENTS", "app:sha256-abc:notes:read")]), ["RAMPART_OAUTH_CLIENTS"]);
    }

    #[test]
    fn a_clients_file_may_hold_one_client_per_line() {
        let spec = "app:0123456789abcdef:notes:read\nother:fedcba9876543210:notes:write\n";
        let c = config(&[("RAMPART_OAUTH_CLIENTS", spec)]).unwrap();
        let ids: Vec<_> = c.oauth_clients.iter().map(|c| (c.id.as_str(), c.scopes.clone())).collect();
        assert_eq!(ids, [("app", vec!["notes:read".to_owned()]), ("other", vec!["notes:write".to_owned()])]);
    }

    #[test]
    fn debug_output_shows_no_password_of_any_url() {
        let c = config(&[
            ("DATABASE_URL", "postgres://app:db-password-1@db/notes"),
            ("RAMPART_RATE_LIMIT", "redis://:redis-password-2@cache:6379"),
            ("RAMPART_JWT_SECRET", "0123456789abcdefghijklmnopqrstuvwxyz-jwt"),
            ("RAMPART_OAUTH_CLIENTS", "app:client-secret-0123456789:notes:read"),
        ])
        .unwrap();
        let text = format!("{c:?}");
        for secret in ["db-password-1", "redis-password-2", "0123456789abcdefghijklmnopqrstuvwxyz-jwt", "client-secret"]
        {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("postgres://app:[redacted]@db/notes"), "{text}");
    }

    #[test]
    fn oauth_clients_parse() {
        let c = config(&[("RAMPART_OAUTH_CLIENTS", "app:0123456789abcdef:notes:read notes:write")]).unwrap();
        assert_eq!(c.oauth_clients[0].id, "app");
        assert_eq!(c.oauth_clients[0].scopes, ["notes:read", "notes:write"]);
    }

    #[test]
    fn a_client_secret_with_a_colon_is_written_percent_encoded_and_never_cut_into_a_scope() {
        // Written raw, the tail of the secret would become a scope: refused, without echoing it.
        let raw = "app:0123456789abcdef:tail-of-secret:notes:read notes:write";
        let errors = config(&[("RAMPART_OAUTH_CLIENTS", raw)]).unwrap_err().to_string();
        assert!(errors.contains("write each as `%3A`") && !errors.contains("tail-of-secret"), "{errors}");
        // Percent-encoded, it is the secret.
        let encoded = "app:0123456789abcdef%3Atail-of-secret:notes:read notes:write";
        let c = config(&[("RAMPART_OAUTH_CLIENTS", encoded)]).unwrap();
        assert_eq!(c.oauth_clients[0].scopes, ["notes:read", "notes:write"]);
        match &c.oauth_clients[0].secret {
            ClientSecret::Plain(secret) => assert_eq!(secret.expose_secret(), "0123456789abcdef:tail-of-secret"),
            ClientSecret::Sha256(_) => panic!("a plain secret"),
        }
        // URN and URI scopes keep their colons.
        let urn = "app:0123456789abcdef:urn:example:notes:read https://api.example/notes";
        assert_eq!(config(&[("RAMPART_OAUTH_CLIENTS", urn)]).unwrap().oauth_clients[0].scopes.len(), 2);
    }
}
