//! JWT verification: jsonwebtoken's keys and algorithms, in one pass over the token.
//!
//! A token is split once ([`super::jose::Compact`]), its header read once and checked
//! ([`super::jose`]: `crit`, key-selecting members, `typ`, duplicates), its key selected by issuer
//! and `kid` and pinned to one algorithm, its signature checked with the key prepared when it was
//! loaded ([`super::signature`]), and its claims parsed once and checked ([`super::claims`]):
//! `exp`, `iss`, `aud` and `sub` are required (jsonwebtoken only requires `exp` by default, and
//! `set_issuer`/`set_audience` do not make them required), `nbf` is checked (off by default
//! there), the leeway is configured (default 30 s, at most 5 minutes; jsonwebtoken's default is
//! 60 s). jsonwebtoken's `decode` would parse the header twice and the claims twice, and prepare
//! the key again for every token: on a cache miss that was a quarter of the request.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{Algorithm, Issuer, JwtVerifier, VerificationKey};
//!
//! let key = VerificationKey::from_secret(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
//! let issuer = Issuer::builder("https://issuer.example", ["notes"]).key(key).build().unwrap();
//! let verifier = JwtVerifier::new(vec![issuer]);
//! assert_eq!(verifier.issuers().count(), 1);
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::TokenError;
use super::cache::{self, DEFAULT_CACHE_BYTES, VerificationCache};
use super::claims::{self, ClaimRules, DEFAULT_LEEWAY, MAX_LEEWAY};
use super::jose::{Compact, read_header};
use super::jwks::JwksCache;
use super::keys::{KeyError, VerificationKey};
use super::signature::{KeyEntry, algorithm_name_matches};
use super::{ClaimMapping, Principal};
use crate::vocabulary::payload::text;

enum KeySource {
    Static { by_kid: HashMap<String, Arc<KeyEntry>>, all: Vec<Arc<KeyEntry>> },
    Jwks(Arc<JwksCache>),
}

/// One trusted token issuer: its identifier, accepted audiences and keys.
pub struct Issuer {
    rules: ClaimRules,
    keys: KeySource,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("issuer", &self.rules.issuer).field("audiences", &self.rules.audiences).finish()
    }
}

/// Builds an [`Issuer`].
#[derive(Debug)]
pub struct IssuerBuilder {
    issuer: String,
    audiences: Vec<String>,
    leeway: Duration,
    keys: Vec<VerificationKey>,
    jwks: Option<(reqwest::Url, Duration)>,
    jwks_min_refresh: Duration,
}

/// Why an issuer could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// Leeway above [`MAX_LEEWAY`].
    #[error("leeway of {0:?} is over the 5 minute cap")]
    LeewayTooLarge(Duration),
    /// No audience: every token must be meant for this service.
    #[error("an issuer needs at least one audience")]
    NoAudience,
    /// Neither static keys nor a JWKS URL.
    #[error("an issuer needs keys or a JWKS URL")]
    NoKeys,
    /// Both static keys and a JWKS URL.
    #[error("an issuer takes either static keys or a JWKS URL, not both")]
    KeysAndJwks,
    /// Two static keys without distinct `kid`s (a token could not say which one it means).
    #[error("several static keys need distinct `kid`s")]
    AmbiguousKeys,
    /// A key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl IssuerBuilder {
    /// Adds a static key.
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Takes keys from a JWKS URL, refreshed every `refresh_every` and on an unknown `kid`
    /// (at most once per [`super::jwks::MIN_REFRESH_INTERVAL`]).
    pub fn jwks(mut self, url: reqwest::Url, refresh_every: Duration) -> Self {
        self.jwks = Some((url, refresh_every));
        self
    }

    /// Sets the least time between two fetches triggered by unknown `kid`s (default
    /// [`super::jwks::MIN_REFRESH_INTERVAL`], 10 s).
    pub fn jwks_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refresh = interval;
        self
    }

    /// Sets the clock-skew allowance for `exp` and `nbf`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// See [`IssuerError`].
    pub fn build(self) -> Result<Issuer, IssuerError> {
        if self.leeway > MAX_LEEWAY {
            return Err(IssuerError::LeewayTooLarge(self.leeway));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(IssuerError::NoAudience);
        }
        let rules = ClaimRules { issuer: self.issuer, audiences: self.audiences, leeway: self.leeway };
        let keys = match (self.keys.is_empty(), self.jwks) {
            (true, None) => return Err(IssuerError::NoKeys),
            (false, Some(_)) => return Err(IssuerError::KeysAndJwks),
            (true, Some((url, every))) => KeySource::Jwks(JwksCache::start(url, every, self.jwks_min_refresh)),
            (false, None) => {
                if self.keys.len() > 1 {
                    let mut kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
                    kids.sort_unstable();
                    kids.dedup();
                    if kids.len() != self.keys.len() || kids.contains(&None) {
                        return Err(IssuerError::AmbiguousKeys);
                    }
                }
                let all: Vec<_> = self.keys.into_iter().map(|k| Arc::new(KeyEntry::new(k))).collect();
                let by_kid = all.iter().filter_map(|e| Some((e.key.kid.clone()?, Arc::clone(e)))).collect();
                KeySource::Static { by_kid, all }
            }
        };
        Ok(Issuer { rules, keys })
    }
}

impl Issuer {
    /// Starts an issuer whose tokens carry `iss` = `issuer` and an `aud` among `audiences`.
    pub fn builder<S: Into<String>>(
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = S>,
    ) -> IssuerBuilder {
        IssuerBuilder {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            leeway: DEFAULT_LEEWAY,
            keys: Vec::new(),
            jwks: None,
            jwks_min_refresh: super::jwks::MIN_REFRESH_INTERVAL,
        }
    }

    /// The `iss` value.
    pub fn issuer(&self) -> &str {
        &self.rules.issuer
    }

    /// The JWKS cache, when keys come from a URL.
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        match &self.keys {
            KeySource::Jwks(cache) => Some(cache),
            KeySource::Static { .. } => None,
        }
    }

    async fn select_key(&self, kid: Option<&str>, alg: &str) -> Result<Arc<KeyEntry>, TokenError> {
        match (&self.keys, kid) {
            (KeySource::Static { by_kid, .. }, Some(kid)) if !by_kid.is_empty() => {
                by_kid.get(kid).cloned().ok_or(TokenError::UnknownKey)
            }
            (KeySource::Static { all, .. }, _) => match all.as_slice() {
                [only] => Ok(Arc::clone(only)),
                _ => Err(TokenError::UnknownKey),
            },
            (KeySource::Jwks(cache), Some(kid)) => cache.key(kid).await,
            (KeySource::Jwks(cache), None) => cache.only_key_for(alg).await.ok_or(TokenError::UnknownKey),
        }
    }
}

/// Verifies bearer JWTs against one or more issuers.
///
/// Successful verifications are remembered (see [`JwtVerifier::with_cache_bytes`]): a token
/// seen before costs a map lookup and a byte comparison instead of a signature check and a JSON
/// parse, until its `exp` or the next change of keys.
#[derive(Debug)]
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
    mapping: ClaimMapping,
    cache: VerificationCache,
}

impl JwtVerifier {
    /// A verifier trusting these issuers, remembering verified tokens within
    /// [`DEFAULT_CACHE_BYTES`](super::DEFAULT_CACHE_BYTES).
    pub fn new(issuers: Vec<Issuer>) -> Self {
        Self { issuers, mapping: ClaimMapping::default(), cache: VerificationCache::with_budget(DEFAULT_CACHE_BYTES) }
    }

    /// How many bytes of verified tokens to remember (0 verifies every request from scratch);
    /// beyond, the least useful entries are evicted one by one.
    pub fn with_cache_bytes(mut self, bytes: u64) -> Self {
        self.cache = VerificationCache::with_budget(bytes);
        self
    }

    /// Remembers at least `capacity` tokens of 500 bytes (0 verifies every request from scratch): a
    /// byte budget of `capacity` times [`ENTRY_BYTES`](super::ENTRY_BYTES) ([`Self::with_cache_bytes`]).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        let budget = (capacity as u64).saturating_mul(super::ENTRY_BYTES);
        self.cache = VerificationCache::with_budget(budget);
        self
    }

    /// How many bytes the remembered tokens weigh now, by the cache's estimate (at most its
    /// budget, [`Self::with_cache_bytes`]).
    pub fn cached_bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// How many verified tokens are remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Moves whenever a key set changes (a JWKS refresh): cached verifications of older key
    /// sets are not used.
    fn key_generation(&self) -> u64 {
        self.issuers.iter().filter_map(Issuer::jwks).map(|jwks| jwks.generation()).fold(0, u64::wrapping_add)
    }

    /// Sets where roles are read from.
    pub fn with_claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Whether any issuer verifies with a key other than an HMAC secret (a PEM key, or JWKS).
    pub fn has_asymmetric_keys(&self) -> bool {
        self.issuers.iter().any(|issuer| match &issuer.keys {
            KeySource::Jwks(_) => true,
            KeySource::Static { all, .. } => all
                .iter()
                .any(|entry| !matches!(entry.key.algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)),
        })
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &Issuer> {
        self.issuers.iter()
    }

    /// Verifies a compact JWS and maps its claims to a [`Principal`].
    ///
    /// # Errors
    ///
    /// A [`TokenError`] naming the first check that failed.
    ///
    /// # Security
    ///
    /// The key is selected by issuer and `kid`; the token's `alg` must equal the key's algorithm.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if let Some(principal) = self.cached(token.as_bytes()) {
            return Ok(principal);
        }
        self.verify_and_remember(token).await
    }

    /// Verifies `token`, known not to be cached, and remembers the result: the cache is not
    /// looked up a second time.
    pub(crate) async fn verify_and_remember(&self, token: &str) -> Result<Principal, TokenError> {
        let (now, generation) = (cache::now_secs(), self.key_generation());
        let principal = self.verify_at(token, now).await?;
        self.cache.insert(token.as_bytes(), &principal, now, generation);
        Ok(principal)
    }

    /// The principal of `token` if it was verified before and is still valid under current keys.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Principal> {
        self.cache.get(token, cache::now_secs(), self.key_generation())
    }

    /// [`JwtVerifier::verify`] without the cache: every check, every time.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] naming the first check that failed.
    pub async fn verify_uncached(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify_at(token, cache::now_secs()).await
    }

    /// [`Self::verify_uncached`] at `now` (Unix seconds), read once by the caller.
    async fn verify_at(&self, token: &str, now: u64) -> Result<Principal, TokenError> {
        let jws = Compact::split(token)?;
        let mut header_bytes = Vec::new();
        let header = read_header(jws.header, &mut header_bytes)?;
        let (issuer, payload) = self.issuer_for(&jws)?;
        let entry = issuer.select_key(header.kid.as_deref(), &header.alg).await?;
        if !algorithm_name_matches(entry.key.algorithm, &header.alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        entry.verify_signature(&jws)?;
        let payload = match payload {
            Some(payload) => payload,
            None => claims::decode(jws.payload)?,
        };
        Principal::from_payload(payload, &self.mapping, |claims| claims::check_registered(claims, &issuer.rules, now))
    }

    /// The issuer whose keys verify `jws`, and its decoded payload when it had to be read to tell.
    fn issuer_for(&self, jws: &Compact<'_>) -> Result<(&Issuer, Option<String>), TokenError> {
        match self.issuers.as_slice() {
            [] => Err(TokenError::UnknownIssuer),
            [only] => Ok((only, None)),
            several => {
                // Read `iss` unverified, only to pick the issuer whose keys then verify everything.
                let payload = claims::decode(jws.payload)?;
                let claims = claims::Members::read(&payload, None)?;
                // Unsigned yet: a missing `iss` names no issuer (a guess), not a signed token's omission.
                let iss = claims.iss.and_then(text).ok_or(TokenError::UnknownIssuer)?;
                let issuer = several.iter().find(|i| i.rules.issuer == iss).ok_or(TokenError::UnknownIssuer)?;
                Ok((issuer, Some(payload)))
            }
        }
    }
}
