//! Authentication: who is calling.
//!
//! [`Authenticator`] reads the one credential of a request ([`extract_credentials`]), verifies a
//! bearer JWT ([`JwtVerifier`]: HS*, RS*, PS*, ES256/384, EdDSA; keys from secrets, PEM or JWKS) or
//! an API key ([`ApiKeys`]), checks revocation by `jti` ([`Revocations`]), and yields a
//! [`Principal`].
//!
//! # Security
//!
//! The algorithm is pinned by the key, never taken from the token. `alg: none`, key confusion,
//! `crit`, `jku`, `x5u`, `x5c` and embedded `jwk` headers, duplicate members, tokens over the size
//! bound, and expired, premature, foreign-issuer or foreign-audience tokens are all refused.
//!
//! # Examples
//!
//! ```
//! use axum::http::HeaderMap;
//! use rampart::auth::{Algorithm, Authenticator, Issuer, JwtVerifier, VerificationKey};
//!
//! let key = VerificationKey::from_secret(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
//! let issuer = Issuer::builder("rampart-dev", ["notes"]).key(key).build().unwrap();
//! let authenticator = Authenticator::builder().jwt(JwtVerifier::new(vec![issuer])).build().unwrap();
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let error = authenticator.authenticate(&HeaderMap::new()).await.unwrap_err();
//! assert_eq!(error.audit_reason(), "missing_token");
//! # });
//! ```

mod api_key;
mod bearer;
mod cache;
mod claims;
pub mod dpop;
mod introspection;
mod jose;
mod jwks;
mod jwt;
mod keys;
mod nonce;
mod recent;
mod remote;
pub(crate) mod revocation;
mod signature;

use std::sync::Arc;

use axum::http::HeaderMap;

use crate::vocabulary::footprint;

pub use crate::vocabulary::auth_error::{AuthError, TokenError};
pub use crate::vocabulary::principal::{
    AuthMethod, CLIENT_CREDENTIALS_GRANT, ClaimMapping, GRANT_TYPE_CLAIM, Principal, PrincipalKind,
};
pub use api_key::{ApiKey, ApiKeys};
pub use bearer::{API_KEY_HEADER, Credentials, extract_credentials};
pub use cache::{DEFAULT_CACHE_BYTES, ENTRY_BYTES};
pub use claims::{DEFAULT_LEEWAY, MAX_LEEWAY};
pub use introspection::{
    DEFAULT_INTROSPECTION_CACHE, DEFAULT_INTROSPECTION_CACHE_BYTES, DEFAULT_INTROSPECTION_TIMEOUT,
    DEFAULT_NEGATIVE_CACHE, IntrospectionBuilder, IntrospectionSetupError, IntrospectionVerifier,
    MAX_INTROSPECTION_BYTES,
};
pub use jsonwebtoken::Algorithm;
pub use jwks::{JwksCache, JwksError, MAX_JWKS_BYTES, MIN_REFRESH_INTERVAL};
pub use jwt::{Issuer, IssuerBuilder, IssuerError, JwtVerifier};
pub use keys::{KeyError, MIN_HMAC_SECRET_BYTES, VerificationKey};
pub use revocation::{BoxFuture, MemoryRevocations, RevocationError, RevocationFailure, Revocations, revocation_key};

pub use dpop::DPOP_HEADER;
pub use nonce::{NONCE_LIFETIME, NonceIssuer};

/// The default bound on a bearer token or API key, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why an [`Authenticator`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticatorError {
    /// No JWT issuer, introspection endpoint or API key: every request would be refused.
    #[error("no authentication scheme configured: add JWT issuers, an introspection endpoint or API keys")]
    NothingConfigured,
    /// jsonwebtoken has no crypto provider (its features enable none or both backends).
    #[error("jsonwebtoken has no crypto provider: enable exactly one of its `aws_lc_rs` or `rust_crypto` features")]
    NoCryptoProvider,
}

/// Verifies the credentials of a request.
pub struct Authenticator {
    jwt: Option<JwtVerifier>,
    introspection: Option<IntrospectionVerifier>,
    api_keys: ApiKeys,
    revocations: Option<Arc<dyn Revocations>>,
    revocation_failure: RevocationFailure,
    /// Until when (ms after `started`) the revocation store is not asked, after a failure.
    revocation_down_until_ms: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
    realm: Arc<str>,
    max_token_bytes: usize,
    dpop: Option<Dpop>,
}

/// DPoP as the service accepts it: the proof check, the public URL proofs name, and whether
/// plain bearer tokens are refused.
#[derive(Debug)]
struct Dpop {
    verifier: dpop::DpopVerifier,
    public_url: String,
    required: bool,
    /// Proofs seen by every instance (Redis), beside this instance's own replay cache.
    shared: Option<Arc<dyn dpop::SharedReplays>>,
}

impl std::fmt::Debug for dyn dpop::SharedReplays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedReplays")
    }
}

/// Whether an [`Authenticator`] accepts DPoP-bound tokens (RFC 9449), and requires them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// `Authorization: DPoP` is not accepted (a bound token cannot be used here).
    Off,
    /// Bound tokens with their proofs, and plain bearer tokens (not bound ones).
    #[default]
    Allowed,
    /// Only bound tokens with their proofs.
    Required,
}

/// How long the revocation store is left alone after it failed.
const RETRY_REVOCATIONS_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("jwt", &self.jwt)
            .field("introspection", &self.introspection)
            .field("api_keys", &self.api_keys)
            .field("revocations", &self.revocations.is_some())
            .field("revocation_failure", &self.revocation_failure)
            .field("realm", &self.realm)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("dpop", &self.dpop)
            .finish()
    }
}

/// Builds an [`Authenticator`].
#[derive(Default)]
pub struct AuthenticatorBuilder {
    jwt: Option<JwtVerifier>,
    introspection: Option<IntrospectionVerifier>,
    api_keys: ApiKeys,
    revocations: Option<Arc<dyn Revocations>>,
    revocation_failure: RevocationFailure,
    realm: Option<String>,
    max_token_bytes: Option<usize>,
    dpop: Option<Dpop>,
    dpop_replays: Option<Arc<dyn dpop::SharedReplays>>,
    dpop_nonces: Option<NonceIssuer>,
    dpop_replay_capacity: Option<usize>,
}

impl AuthenticatorBuilder {
    /// Accepts DPoP-bound tokens (`Authorization: DPoP` with a `DPoP` proof, RFC 9449) as `mode`
    /// says, proofs naming URIs under `public_url` (the origin and base path clients call:
    /// behind a TLS-terminating proxy, the public one).
    pub fn dpop(mut self, mode: DpopMode, public_url: impl Into<String>) -> Self {
        self.dpop = match mode {
            DpopMode::Off => None,
            DpopMode::Allowed | DpopMode::Required => Some(Dpop {
                verifier: dpop::DpopVerifier::new(),
                public_url: public_url.into(),
                required: mode == DpopMode::Required,
                shared: None,
            }),
        };
        self
    }

    /// Also records DPoP proofs in `store`, shared with the service's other instances, so that a
    /// proof used at one is refused at all (while [`AuthenticatorBuilder::dpop`] accepts proofs).
    pub fn dpop_replays(mut self, store: Arc<dyn dpop::SharedReplays>) -> Self {
        self.dpop_replays = Some(store);
        self
    }

    /// Requires a fresh server nonce in every DPoP proof (RFC 9449 §9), issued by `nonces`
    /// (while [`AuthenticatorBuilder::dpop`] accepts proofs).
    pub fn dpop_nonces(mut self, nonces: NonceIssuer) -> Self {
        self.dpop_nonces = Some(nonces);
        self
    }

    /// Remembers at most `capacity` live DPoP proofs (default
    /// [`dpop::ReplayCache::DEFAULT_CAPACITY`]; each caller holds at most a share of it).
    pub fn dpop_replay_capacity(mut self, capacity: usize) -> Self {
        self.dpop_replay_capacity = Some(capacity);
        self
    }

    /// Accepts bearer JWTs verified by `verifier`.
    pub fn jwt(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(verifier);
        self
    }

    /// Accepts access tokens an introspection endpoint describes (RFC 7662): every bearer token
    /// when no JWT verifier is given, else the tokens that are not JWTs (opaque tokens).
    pub fn introspection(mut self, verifier: IntrospectionVerifier) -> Self {
        self.introspection = Some(verifier);
        self
    }

    /// Accepts these API keys in `X-API-Key`.
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = keys;
        self
    }

    /// Refuses tokens whose `jti` is on this list.
    pub fn revocations(mut self, list: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(list);
        self
    }

    /// What to do when the revocation list cannot answer (default [`RevocationFailure::Closed`]).
    pub fn revocation_failure(mut self, mode: RevocationFailure) -> Self {
        self.revocation_failure = mode;
        self
    }

    /// The realm announced in `WWW-Authenticate` (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The largest token or key accepted (default [`DEFAULT_MAX_TOKEN_BYTES`]).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`AuthenticatorError`] when nothing is configured or the JWT crypto backend is missing.
    pub fn build(self) -> Result<Authenticator, AuthenticatorError> {
        if self.jwt.is_none() && self.introspection.is_none() && self.api_keys.is_empty() {
            return Err(AuthenticatorError::NothingConfigured);
        }
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(AuthenticatorError::NoCryptoProvider);
        }
        let realm: String =
            self.realm.unwrap_or_else(|| "api".to_owned()).chars().filter(|c| *c != '"' && *c != '\\').collect();
        // The shared replay store and the nonces, whichever order the builder was given them in.
        let (replays, nonces, capacity) = (self.dpop_replays, self.dpop_nonces, self.dpop_replay_capacity);
        let dpop = self.dpop.map(|dpop| Dpop {
            verifier: match (nonces, capacity) {
                (Some(nonces), Some(capacity)) => dpop.verifier.nonces(nonces).replay_capacity(capacity),
                (Some(nonces), None) => dpop.verifier.nonces(nonces),
                (None, Some(capacity)) => dpop.verifier.replay_capacity(capacity),
                (None, None) => dpop.verifier,
            },
            shared: replays,
            ..dpop
        });
        Ok(Authenticator {
            jwt: self.jwt,
            introspection: self.introspection,
            api_keys: self.api_keys,
            revocations: self.revocations,
            revocation_failure: self.revocation_failure,
            revocation_down_until_ms: std::sync::atomic::AtomicU64::new(0),
            started: std::time::Instant::now(),
            realm: realm.into(),
            max_token_bytes: self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES),
            dpop,
        })
    }
}

impl Authenticator {
    /// Starts a builder.
    pub fn builder() -> AuthenticatorBuilder {
        AuthenticatorBuilder::default()
    }

    /// The realm of the `WWW-Authenticate` challenge.
    pub fn realm(&self) -> &Arc<str> {
        &self.realm
    }

    /// Whether DPoP-bound tokens are accepted or required.
    pub fn dpop_mode(&self) -> DpopMode {
        match &self.dpop {
            None => DpopMode::Off,
            Some(dpop) if dpop.required => DpopMode::Required,
            Some(_) => DpopMode::Allowed,
        }
    }

    /// A fresh DPoP nonce for a `DPoP-Nonce` header, when proofs must carry one.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop.as_ref()?.verifier.issue_nonce()
    }

    /// Whether API keys (`X-API-Key`) are accepted.
    pub fn accepts_api_keys(&self) -> bool {
        !self.api_keys.is_empty()
    }

    /// The credentials this service accepts: bearer tokens (unless DPoP is required) and
    /// DPoP-bound ones (unless off) when it verifies or introspects tokens, API keys when keys
    /// are configured.
    pub fn accepts(&self) -> crate::contract::Accepts {
        let tokens = self.jwt.is_some() || self.introspection.is_some();
        crate::contract::Accepts {
            bearer: tokens && self.dpop_mode() != DpopMode::Required,
            dpop: tokens && self.dpop_mode() != DpopMode::Off,
            api_key: self.accepts_api_keys(),
        }
    }

    /// The JWT verifier, if bearer tokens are accepted.
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.jwt.as_ref()
    }

    /// The introspection verifier, if tokens are introspected.
    pub fn introspection(&self) -> Option<&IntrospectionVerifier> {
        self.introspection.as_ref()
    }

    /// The introspection verifier when `token` is one it decides: every token without a JWT
    /// verifier, else the ones that are not shaped as a JWS (three parts). With both, a JWT from
    /// the introspecting server is therefore verified here, by this service's keys: give it that
    /// server's keys (`RAMPART_JWKS_URL`), or no key setting so that every token is introspected.
    fn introspects(&self, token: &str) -> Option<&IntrospectionVerifier> {
        let introspection = self.introspection.as_ref()?;
        (self.jwt.is_none() || token.bytes().filter(|b| *b == b'.').count() != 2).then_some(introspection)
    }

    /// Whether verifying a new bearer token costs an asymmetric signature check (RSA, ECDSA,
    /// EdDSA: keys from PEM or JWKS), which the lockout's [`crate::lockout::VerificationBudget`]
    /// bounds for locked IPs. HMAC keys cost about what parsing the token does.
    pub fn verification_is_costly(&self) -> bool {
        self.jwt.as_ref().is_some_and(JwtVerifier::has_asymmetric_keys)
    }

    /// Whether authenticating these headers would cost an asymmetric signature check or a round
    /// trip to the introspection endpoint: a bearer token of valid syntax, not cached, that is
    /// introspected, or whose JOSE header passes the checks and names an asymmetric algorithm
    /// with asymmetric keys configured. Requests without credentials, with API keys or with
    /// malformed or HMAC tokens cost nothing of the kind.
    pub(crate) fn would_cost_a_check(&self, headers: &HeaderMap) -> bool {
        // A DPoP request's token is verified (or introspected) before its proof is looked at.
        let (token, proof) = match bearer::extract_unchecked(headers, self.max_token_bytes) {
            Ok(Credentials::Bearer(token)) => (token, false),
            Ok(Credentials::Dpop(token)) => (token, true),
            _ => return false,
        };
        // A DPoP proof is an asymmetric signature to check on every request, whatever the
        // token's own algorithm and whether the token is cached.
        if proof {
            return bearer::check_bearer_syntax(token, self.max_token_bytes).is_ok();
        }
        if let Some(introspection) = self.introspects(token) {
            return bearer::check_bearer_syntax(token, self.max_token_bytes).is_ok() && !introspection.knows(token);
        }
        self.verification_is_costly()
            && bearer::check_bearer_syntax(token, self.max_token_bytes).is_ok()
            && jose::header_alg_passes(token, |alg| !alg.starts_with("HS"))
            && !self.has_cached(headers)
    }

    /// Whether the request's bearer token was verified before and is still cached.
    pub(crate) fn has_cached(&self, headers: &HeaderMap) -> bool {
        match (bearer::extract_unchecked(headers, self.max_token_bytes), &self.jwt) {
            (Ok(Credentials::Bearer(token)), Some(verifier)) => verifier.cached(token.as_bytes()).is_some(),
            _ => false,
        }
    }

    /// The principal of a request whose bearer token was verified before and is still cached,
    /// when that and the revocation check can be answered without waiting (the revocation list
    /// is in memory). `None` means: take [`Authenticator::authenticate`], which decides every
    /// other case, failures included.
    pub(crate) fn authenticate_cached(&self, headers: &HeaderMap) -> Option<Principal> {
        let token = bearer::plain_bearer(headers)?;
        let principal = match (&self.jwt, &self.introspection) {
            (Some(jwt), None) => jwt.cached(token)?,
            // Each verifier caches only what it verified: at most one of them knows the token.
            (jwt, Some(introspection)) => {
                jwt.as_ref().and_then(|jwt| jwt.cached(token)).or_else(|| introspection.cached(token))?
            }
            (None, None) => return None,
        };
        // A bound token without its proof, or any bearer token where DPoP is required: the full
        // path refuses it.
        if principal.bound_key().is_some() || self.dpop.as_ref().is_some_and(|dpop| dpop.required) {
            return None;
        }
        let revoked = match (&self.revocations, principal.token_id()) {
            (Some(list), Some(jti)) => {
                list.is_revoked_now(&revocation_key(principal.issuer().unwrap_or_default(), jti))?.ok()?
            }
            _ => false,
        };
        (!revoked).then_some(principal)
    }

    /// Authenticates a request from its headers. A DPoP request needs its method and URI: see
    /// [`Authenticator::authenticate_request`].
    ///
    /// # Errors
    ///
    /// An [`AuthError`] saying which check failed.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        self.authenticate_request(headers, "", "").await
    }

    /// Authenticates a request by `method` for `path_and_query` from its headers; a DPoP proof is
    /// checked against them (under the public URL).
    ///
    /// # Errors
    ///
    /// An [`AuthError`] saying which check failed.
    pub async fn authenticate_request(
        &self,
        headers: &HeaderMap,
        method: &str,
        path_and_query: &str,
    ) -> Result<Principal, AuthError> {
        match bearer::extract_unchecked(headers, self.max_token_bytes)? {
            Credentials::Bearer(token) => {
                let principal = self.verify_token(token).await?;
                // RFC 9449 §7.1: a bound token is refused without its proof.
                if principal.bound_key().is_some() || self.dpop.as_ref().is_some_and(|dpop| dpop.required) {
                    return Err(AuthError::DpopRequired);
                }
                // Never cached: a revocation takes effect on the very next request.
                self.check_revocation(&principal).await?;
                Ok(principal)
            }
            Credentials::Dpop(token) => {
                let dpop = self.dpop.as_ref().ok_or(AuthError::UnsupportedScheme)?;
                let proof = dpop::proof_header(headers)?.ok_or(AuthError::Dpop(dpop::DpopError::Missing))?;
                // A refused token is challenged in the scheme it came in.
                let principal = self.verify_token(token).await.map_err(|error| match error {
                    AuthError::Token(token) => AuthError::DpopToken(token),
                    other => other,
                })?;
                let uri = dpop::request_uri(&dpop.public_url, path_and_query);
                // The token's key is checked before the proof is recorded, and the proof counts
                // against its caller's share of the replay cache.
                let verified = dpop.verifier.verify_bound(
                    proof,
                    &dpop::ProofRequest::new(method, &uri),
                    token,
                    principal.bound_key(),
                    principal.qualified_subject(),
                )?;
                if let Some(shared) = &dpop.shared {
                    match shared.first_use(&verified.id, verified.keep_secs).await {
                        Ok(true) => {}
                        Ok(false) => return Err(AuthError::Dpop(dpop::DpopError::Replayed)),
                        Err(error) => {
                            tracing::warn!(target: "rampart::auth", %error, "the shared DPoP replay store did not answer; proof refused");
                            return Err(AuthError::ReplayCheckUnavailable);
                        }
                    }
                }
                self.check_revocation(&principal).await?;
                Ok(principal)
            }
            Credentials::ApiKey(key) => {
                if self.api_keys.is_empty() {
                    return Err(AuthError::SchemeDisabled);
                }
                self.api_keys.verify(key).ok_or(AuthError::UnknownApiKey)
            }
        }
    }

    /// What an introspection endpoint (RFC 7662) says of `token`: its principal when it verifies
    /// and is not revoked, `None` for anything else (unknown, expired, revoked, or the revocation
    /// list not answering: inactive rather than wrongly active). A bound token is active: its
    /// holder proves the key to the resource server, not here.
    pub async fn introspect(&self, token: &str) -> Option<Principal> {
        let principal = self.verify_token(token).await.ok()?;
        self.check_revocation(&principal).await.ok()?;
        Some(principal)
    }

    /// The principal of a JWT: from the verification cache, else verified (and remembered).
    async fn verify_token(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(introspection) = self.introspects(token) {
            bearer::check_bearer_syntax(token, self.max_token_bytes)?;
            return introspection.verify(token).await;
        }
        let verifier = self.jwt.as_ref().ok_or(AuthError::SchemeDisabled)?;
        // A token verified before has exactly these bytes, whose syntax was checked then.
        let cached = verifier.cached(token.as_bytes());
        crate::telemetry::record_token_cache(cached.is_some());
        match cached {
            Some(principal) => Ok(principal),
            None => {
                bearer::check_bearer_syntax(token, self.max_token_bytes)?;
                crate::telemetry::record_verification();
                Ok(verifier.verify_and_remember(token).await?)
            }
        }
    }

    async fn check_revocation(&self, principal: &Principal) -> Result<(), AuthError> {
        use std::sync::atomic::Ordering;
        let (Some(list), Some(jti)) = (&self.revocations, principal.token_id()) else {
            return Ok(());
        };
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < self.revocation_down_until_ms.load(Ordering::Relaxed) {
            return self.revocations_unavailable();
        }
        match list.is_revoked(&revocation_key(principal.issuer().unwrap_or_default(), jti)).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(AuthError::Revoked),
            Err(err) => {
                tracing::warn!(target: "rampart::auth", error = %err, mode = ?self.revocation_failure, "revocation check failed; not asking the store again for a second");
                let retry_at = now_ms + u64::try_from(RETRY_REVOCATIONS_AFTER.as_millis()).unwrap_or(1000);
                self.revocation_down_until_ms.store(retry_at, Ordering::Relaxed);
                self.revocations_unavailable()
            }
        }
    }

    /// The answer while the revocation store is unavailable, per [`RevocationFailure`].
    fn revocations_unavailable(&self) -> Result<(), AuthError> {
        match self.revocation_failure {
            RevocationFailure::Closed => Err(AuthError::RevocationUnavailable),
            RevocationFailure::Open => {
                crate::telemetry::record_fallback("revocation_open");
                Ok(())
            }
        }
    }
}
