//! Building the security hub from a validated [`Config`]: the issuer and its keys, the
//! introspection endpoint, API keys,
//! revocations and rate limits (Redis when `RAMPART_RATE_LIMIT` names it), trusted proxies, TLS.
//!
//! # Examples
//!
//! ```
//! use rampart::config::Config;
//! use rampart::Security;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config::from_lookup(|_| None).unwrap(); // development defaults
//! let security = Security::from_config(&config).unwrap();
//! assert_eq!(security.authenticator().realm().as_ref(), "api");
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::auth::dpop::SharedReplays;
use crate::auth::{
    Algorithm, Authenticator, AuthenticatorError, ClaimMapping, IntrospectionSetupError, IntrospectionVerifier, Issuer,
    IssuerError, JwtVerifier, KeyError, MemoryRevocations, NonceIssuer, Revocations, VerificationKey,
};
use crate::config::{Config, JwtKeys, RateLimitBackend};
use crate::lockout::Lockout;
use crate::rate::{MemoryStore, RateLimiter, RedisStore, RedisStoreError};
use crate::{Security, SecurityBuilder};

/// How often JWKS keys are refreshed when nothing else triggers it.
const JWKS_REFRESH: Duration = Duration::from_secs(300);

/// Why the configured security could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The issuer is inconsistent.
    #[error(transparent)]
    Issuer(#[from] IssuerError),
    /// The authenticator is inconsistent.
    #[error(transparent)]
    Authenticator(#[from] AuthenticatorError),
    /// The introspection endpoint cannot be used.
    #[error("RAMPART_INTROSPECTION_URL: {0}")]
    Introspection(#[from] IntrospectionSetupError),
    /// The Redis URL is unusable.
    #[error("RAMPART_RATE_LIMIT: {0}")]
    Redis(#[from] RedisStoreError),
}

impl Security {
    /// Assembles the hub the configuration describes. Redis is connected lazily: a Redis that is
    /// down at start-up is handled by the failure mode, not by refusing to start.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when a configured key or URL cannot be used.
    pub fn from_config(config: &Config) -> Result<Security, SetupError> {
        Ok(Self::builder_from_config(config)?.build())
    }

    /// [`Security::from_config`], as a builder, for what the environment does not describe (a
    /// relations store, say).
    ///
    /// # Errors
    ///
    /// [`SetupError`] when a configured key or URL cannot be used.
    pub fn builder_from_config(config: &Config) -> Result<SecurityBuilder, SetupError> {
        let jwt = &config.jwt;
        let mapping = ClaimMapping::default().with_roles_pointer(&jwt.roles_pointer);
        let issuer = Issuer::builder(&jwt.issuer, &jwt.audiences).leeway(jwt.leeway);
        let issuer = match &jwt.keys {
            JwtKeys::Secret { .. } => {
                let secret = jwt.secret_bytes().unwrap_or_default();
                Some(issuer.key(VerificationKey::from_secret(Algorithm::HS256, secret)?))
            }
            JwtKeys::PublicKeyPem { key, .. } => Some(issuer.key((**key).clone())),
            JwtKeys::Jwks { url } => Some(issuer.jwks(url.clone(), JWKS_REFRESH)),
            JwtKeys::None => None,
        };
        let verifier = match issuer {
            Some(issuer) => Some(
                JwtVerifier::new(vec![issuer.build()?])
                    .with_cache_bytes(jwt.token_cache_bytes)
                    .with_claim_mapping(mapping.clone()),
            ),
            None => None,
        };
        let introspection = match &config.introspection {
            Some(settings) => {
                let builder = IntrospectionVerifier::builder(settings.url.clone(), &jwt.issuer, &jwt.audiences)
                    .client(&settings.client_id, settings.client_secret.clone())
                    .cache_for(settings.cache_for)
                    .refuse_for(settings.refuse_for)
                    .timeout(settings.timeout)
                    .leeway(jwt.leeway)
                    .claim_mapping(mapping);
                let builder = if settings.require_audience { builder } else { builder.audience_optional() };
                Some(builder.build()?)
            }
            None => None,
        };

        let memory = MemoryStore::with_max_keys(config.rate_limit_max_keys);
        type Shared = (RateLimiter, Arc<dyn Revocations>, Lockout, Option<Arc<dyn SharedReplays>>);
        let (limiter, revocations, lockout, replays): Shared = match &config.rate_limit {
            RateLimitBackend::Memory => (
                RateLimiter::memory(memory),
                Arc::new(MemoryRevocations::default()),
                Lockout::memory(config.lockout),
                None,
            ),
            RateLimitBackend::Redis(url) => {
                let redis =
                    RedisStore::connect(url, config.rate_limit_timeout)?.with_prefix(config.rate_limit_prefix.clone());
                let revocations = Arc::new(redis.revocations());
                let lockout = Lockout::redis(config.lockout, redis.clone());
                // Instances sharing Redis share the DPoP proofs they have seen.
                let replays: Arc<dyn SharedReplays> = Arc::new(redis.dpop_replays());
                (RateLimiter::redis(redis, config.rate_limit_failure, memory), revocations, lockout, Some(replays))
            }
        };
        let mut authenticator = Authenticator::builder();
        if let Some(verifier) = verifier {
            authenticator = authenticator.jwt(verifier);
        }
        if let Some(introspection) = introspection {
            authenticator = authenticator.introspection(introspection);
        }
        let mut authenticator = authenticator
            .api_keys(config.api_keys.clone())
            .revocations(revocations)
            .revocation_failure(config.revocation_failure)
            .max_token_bytes(jwt.max_token_bytes)
            .dpop(config.dpop, config.public_url());
        if config.dpop_nonce {
            authenticator = authenticator.dpop_nonces(NonceIssuer::new(&config.seal.keyring.derive("dpop-nonce")));
        }
        if let Some(replays) = replays {
            authenticator = authenticator.dpop_replays(replays);
        }
        let authenticator = authenticator.build()?;
        Ok(Security::builder(authenticator)
            .rate_limiter(limiter)
            .trusted_proxies(config.trusted_proxies.clone())
            .lockout(lockout)
            .timeouts(config.timeouts)
            .tls(config.tls.is_some()))
    }
}
