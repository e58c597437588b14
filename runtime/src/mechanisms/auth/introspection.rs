//! Access tokens described by an OAuth 2.0 introspection endpoint (RFC 7662): opaque tokens,
//! or any token an authorization server wants to keep the last word on.
//!
//! The resource server authenticates to the endpoint with its own client credentials (HTTP
//! Basic, RFC 6749 §2.3.1), posts `token=...&token_type_hint=access_token`, and reads the
//! answer:
//!
//! - `"active": true`: the described claims become the [`Principal`] (`sub`, `scope`,
//!   `client_id`, `exp`, `jti`, `cnf.jkt`, the roles pointer), after these checks: `aud` names
//!   one of the configured audiences (required, as in a JWT, unless
//!   [`IntrospectionBuilder::audience_optional`]: RFC 7662 makes it optional, and a server that
//!   leaves it out would let another service's tokens in); `iss`, when given, is the configured
//!   issuer (and is taken as it when not given); `exp`, when given, is not past (beyond the
//!   leeway); the token is not a refresh token (`token_type`, `token_use` or `typ` saying so:
//!   `token_type_hint` is only a hint). A token whose `sub` is its `client_id` (RFC 9068 §2.2), or
//!   an answer without `sub` that says it was granted to the client itself (`gty` or
//!   `grant_type` = `client-credentials`/`client_credentials`), is that client's own:
//!   [`crate::auth::PrincipalKind::Client`], never a user of the same name. An answer without
//!   `sub` and without that evidence is refused: taking it as the client would make every user
//!   of that client one principal.
//! - `"active": false`, an active answer that fails those checks, or a `400`/`413` (the server
//!   refusing this token): refused with 401 `invalid_token` ([`TokenError::Inactive`] and the
//!   others), like an unknown JWT.
//! - No answer within the timeout, another error status (a `401` says this service's client
//!   credentials are wrong), or a body that is not an introspection answer: 503 with
//!   `Retry-After` ([`AuthError::IntrospectionUnavailable`]), the warning logged (never the
//!   token); that token is not asked about again for a second. When such failures come for
//!   three distinct tokens within ten seconds, the endpoint is taken as down and left alone for a second, so that
//!   requests do not each wait out the timeout; one token the server fails on does not stop the
//!   others. A token cannot be accepted without an answer: there is no open mode.
//!
//! A round trip under way is shared by the requests that carry the same token at once; its entry
//! goes when its last waiter does (a cancelled request leaves nothing behind), and at most
//! 4,096 are shared (beyond, requests ask on their own).
//!
//! # Caches
//!
//! Active answers are kept for at most the configured time and never past the token's `exp`;
//! refusals for a short time (the *negative* cache), so that a client retrying a dead token does
//! not cost one round trip per request. The active answers are bounded in bytes
//! ([`DEFAULT_INTROSPECTION_CACHE_BYTES`]), the refusals in entries; the two are separate: a
//! flood of invented tokens evicts refusals, never the principals of live tokens. They are keyed
//! by the SHA-256 of the token, so no token is held in memory after its request. Requests that
//! arrive with the same new token while it is being asked about share that one round trip.
//! A revocation at the authorization server therefore takes effect within the positive cache's
//! time (`RAMPART_INTROSPECTION_CACHE_SECS`, 60 s by default; `0` asks on every request).
//!
//! # Examples
//!
//! ```
//! use rampart::auth::IntrospectionVerifier;
//! use std::time::Duration;
//!
//! let endpoint = "https://idp.example/oauth/introspect".parse().unwrap();
//! let verifier = IntrospectionVerifier::builder(endpoint, "https://idp.example", ["orders"])
//!     .client("orders-api", "a-long-random-client-secret".to_owned())
//!     .cache_for(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(verifier.request_count(), 0);
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::claims::DEFAULT_LEEWAY;
use super::{AuthError, CLIENT_CREDENTIALS_GRANT, ClaimMapping, GRANT_TYPE_CLAIM, Principal, TokenError};

/// How long an active answer is kept by default (never past the token's `exp`).
pub const DEFAULT_INTROSPECTION_CACHE: Duration = Duration::from_secs(60);
/// How long a refusal is kept by default.
pub const DEFAULT_NEGATIVE_CACHE: Duration = Duration::from_secs(5);
/// The default bound on one round trip to the endpoint.
pub const DEFAULT_INTROSPECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// The memory active answers may take by default (their principals, weighed as the
/// verification cache weighs them).
pub const DEFAULT_INTROSPECTION_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// The largest introspection answer read.
pub const MAX_INTROSPECTION_BYTES: usize = 64 * 1024;
/// The most refusals kept.
const NEGATIVE_ENTRIES: usize = 10_000;
/// How long the endpoint is left alone after it failed.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How many distinct tokens must fail (transport error, timeout, 5xx, no answer) within
/// [`FAILURE_WINDOW`] before the endpoint is taken as down.
pub(crate) const DOWN_AFTER_TOKENS: usize = 3;
/// The window [`DOWN_AFTER_TOKENS`] failures are counted in.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(10);
/// The most round trips shared by concurrent requests (the in-flight map's bound).
pub(crate) const MAX_SHARED_ROUND_TRIPS: usize = 4096;

/// Why an [`IntrospectionVerifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionSetupError {
    /// The endpoint is neither `https://` nor plain `http://` on a loopback host.
    #[error("the introspection endpoint must be an https:// URL (plain http only for localhost): {0}")]
    Insecure(String),
    /// No client credentials: RFC 7662 §2.1 requires the resource server to authenticate.
    #[error("the introspection endpoint needs this service's client id and secret")]
    NoClient,
    /// The HTTP client could not be built (no TLS backend).
    #[error("the HTTP client for introspection could not be built: {0}")]
    Client(#[from] reqwest::Error),
}

/// Why the endpoint gave no usable answer (logged; the request gets 503).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the request failed or timed out: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the endpoint answered {0} (are RAMPART_INTROSPECTION_CLIENT_ID and _SECRET registered there?)")]
    Status(reqwest::StatusCode),
    /// The server refused this one token's request (`400`, `413`): a refusal of the token, not
    /// an outage.
    #[error("the endpoint refused the token's request ({0})")]
    Refused(reqwest::StatusCode),
    #[error("the answer is over {MAX_INTROSPECTION_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not an introspection response: {0}")]
    NotAnAnswer(&'static str),
}

/// Verifies tokens with an introspection endpoint, caching its answers. Built with
/// [`IntrospectionVerifier::builder`]; used by [`crate::auth::Authenticator`] for the tokens it
/// does not verify itself.
pub struct IntrospectionVerifier {
    endpoint: reqwest::Url,
    http: reqwest::Client,
    /// `Basic base64(urlencode(id):urlencode(secret))`, marked sensitive.
    authorization: HeaderValue,
    issuer: String,
    audiences: Vec<String>,
    require_audience: bool,
    mapping: ClaimMapping,
    leeway: Duration,
    cache_for: Duration,
    refuse_for: Duration,
    active: quick_cache::sync::Cache<[u8; 32], Active, ByBytes>,
    refused: quick_cache::sync::Cache<[u8; 32], Refused>,
    /// Tokens whose round trip just failed, until when: not asked again for a second (503).
    failed_tokens: quick_cache::sync::Cache<[u8; 32], Instant>,
    requests: AtomicU64,
    /// The round trips under way, by token digest, with the answer their waiters will share.
    in_flight: Mutex<HashMap<[u8; 32], Arc<Pending>>>,
    /// Until when (ms after `started`) the endpoint is not asked, after failures.
    down_until_ms: AtomicU64,
    /// Recent failures: when (ms after `started`) and for which token (its digest's head).
    failures: Mutex<std::collections::VecDeque<(u64, [u8; 8])>>,
    started: Instant,
}

/// The answer a round trip under way will give every request that waits for it.
type Pending = OnceCell<Result<Principal, AuthError>>;

/// One request waiting on a shared round trip; the last one to go, answered or cancelled,
/// removes the round trip from the map.
struct Waiter<'a> {
    in_flight: &'a Mutex<HashMap<[u8; 32], Arc<Pending>>>,
    key: [u8; 32],
    pending: Arc<Pending>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Held by the map and this waiter only: nobody else waits for it.
        if in_flight.get(&self.key).is_some_and(|current| Arc::ptr_eq(current, &self.pending))
            && Arc::strong_count(&self.pending) <= 2
        {
            in_flight.remove(&self.key);
        }
    }
}

#[derive(Clone)]
struct Active {
    principal: Principal,
    until: Instant,
}

/// Weighs an active answer by the memory its principal holds.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<[u8; 32], Active> for ByBytes {
    fn weight(&self, _key: &[u8; 32], entry: &Active) -> u64 {
        entry.principal.heap_bytes().saturating_add(64).max(1)
    }
}

/// A principal's usual weight, for the cache's first sizing.
const TYPICAL_ENTRY_BYTES: u64 = 1024;

#[derive(Clone)]
struct Refused {
    reason: TokenError,
    until: Instant,
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.endpoint.as_str())
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("cache_for", &self.cache_for)
            .field("refuse_for", &self.refuse_for)
            .finish_non_exhaustive()
    }
}

/// Builds an [`IntrospectionVerifier`].
#[derive(Debug)]
pub struct IntrospectionBuilder {
    endpoint: reqwest::Url,
    issuer: String,
    audiences: Vec<String>,
    client: Option<(String, SecretString)>,
    mapping: ClaimMapping,
    leeway: Duration,
    cache_for: Duration,
    refuse_for: Duration,
    timeout: Duration,
    cache_bytes: u64,
    require_audience: bool,
}

impl IntrospectionBuilder {
    /// This service's client credentials at the endpoint (required).
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        self.client = Some((id.into(), secret.into()));
        self
    }

    /// How long an active answer is used (default [`DEFAULT_INTROSPECTION_CACHE`]; never past
    /// the token's `exp`; zero asks on every request).
    pub fn cache_for(mut self, time: Duration) -> Self {
        self.cache_for = time;
        self
    }

    /// How long a refusal is remembered (default [`DEFAULT_NEGATIVE_CACHE`]; zero asks again on
    /// every request).
    pub fn refuse_for(mut self, time: Duration) -> Self {
        self.refuse_for = time;
        self
    }

    /// The bound on one round trip (default [`DEFAULT_INTROSPECTION_TIMEOUT`]).
    pub fn timeout(mut self, time: Duration) -> Self {
        self.timeout = time;
        self
    }

    /// The memory active answers may take (default [`DEFAULT_INTROSPECTION_CACHE_BYTES`]).
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes.max(1);
        self
    }

    /// Accepts active answers without `aud` (RFC 7662 makes it optional). Only for an
    /// authorization server whose tokens are all for this service: another service's token would
    /// be accepted here.
    pub fn audience_optional(mut self) -> Self {
        self.require_audience = false;
        self
    }

    /// Where roles are read from in the answer.
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// The clock-skew allowance on `exp` (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks the settings and builds the verifier.
    ///
    /// # Errors
    ///
    /// [`IntrospectionSetupError`] for a plain-http endpoint off loopback, missing client
    /// credentials, or an HTTP client that cannot be built.
    pub fn build(self) -> Result<IntrospectionVerifier, IntrospectionSetupError> {
        let loopback = self.endpoint.host_str().is_some_and(|host| {
            host == "localhost"
                || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        if !(self.endpoint.scheme() == "https" || (self.endpoint.scheme() == "http" && loopback)) {
            return Err(IntrospectionSetupError::Insecure(format!(
                "{}://{}",
                self.endpoint.scheme(),
                self.endpoint.host_str().unwrap_or_default()
            )));
        }
        let (id, secret) = self.client.ok_or(IntrospectionSetupError::NoClient)?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(IntrospectionVerifier {
            endpoint: self.endpoint,
            http,
            authorization: basic_authorization(&id, secret.expose_secret()),
            issuer: self.issuer,
            audiences: self.audiences,
            mapping: self.mapping,
            leeway: self.leeway,
            cache_for: self.cache_for,
            refuse_for: self.refuse_for,
            active: quick_cache::sync::Cache::with_weighter(
                usize::try_from(self.cache_bytes / TYPICAL_ENTRY_BYTES).unwrap_or(usize::MAX).max(16),
                self.cache_bytes,
                ByBytes,
            ),
            require_audience: self.require_audience,
            refused: quick_cache::sync::Cache::new(NEGATIVE_ENTRIES),
            failed_tokens: quick_cache::sync::Cache::new(NEGATIVE_ENTRIES),
            requests: AtomicU64::new(0),
            in_flight: Mutex::default(),
            down_until_ms: AtomicU64::new(0),
            failures: Mutex::default(),
            started: Instant::now(),
        })
    }
}

/// RFC 6749 §2.3.1: the id and the secret are form-encoded, then joined and base64-encoded.
fn basic_authorization(id: &str, secret: &str) -> HeaderValue {
    use base64::Engine as _;
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
    let mut value = HeaderValue::from_str(&format!("Basic {credentials}")).unwrap_or(HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl IntrospectionVerifier {
    /// Starts a builder for the endpoint at `endpoint`, speaking for `issuer` (the `iss` its
    /// answers must have, when they have one) and accepting tokens for one of `audiences` (when
    /// the answer names an `aud`).
    pub fn builder<A: Into<String>>(
        endpoint: reqwest::Url,
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = A>,
    ) -> IntrospectionBuilder {
        IntrospectionBuilder {
            endpoint,
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            client: None,
            mapping: ClaimMapping::default(),
            leeway: DEFAULT_LEEWAY,
            cache_for: DEFAULT_INTROSPECTION_CACHE,
            refuse_for: DEFAULT_NEGATIVE_CACHE,
            timeout: DEFAULT_INTROSPECTION_TIMEOUT,
            cache_bytes: DEFAULT_INTROSPECTION_CACHE_BYTES,
            require_audience: true,
        }
    }

    /// How many requests were sent to the endpoint (answered or not).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The principal of `token` when an active answer for it is cached and current.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Principal> {
        let key: [u8; 32] = Sha256::digest(token).into();
        self.active.get(&key).filter(|entry| entry.until > Instant::now()).map(|entry| entry.principal)
    }

    /// Whether a request with `token` would be answered from a cache (active or refused).
    pub(crate) fn knows(&self, token: &str) -> bool {
        let key = digest(token);
        let now = Instant::now();
        self.active.get(&key).is_some_and(|entry| entry.until > now)
            || self.refused.get(&key).is_some_and(|entry| entry.until > now)
    }

    /// How many round trips are shared by requests waiting for them now (for tests and metrics).
    pub fn round_trips_under_way(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// The principal of `token`: from the cache, else from the endpoint's answer.
    ///
    /// # Errors
    ///
    /// [`AuthError::Token`] when the token is not active or its answer fails a claim check;
    /// [`AuthError::IntrospectionUnavailable`] when the endpoint gave no usable answer.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let key = digest(token);
        let now = Instant::now();
        if let Some(entry) = self.active.get(&key) {
            if entry.until > now {
                crate::telemetry::record_introspection("cached");
                return Ok(entry.principal);
            }
            self.active.remove(&key);
        }
        if let Some(entry) = self.refused.get(&key) {
            if entry.until > now {
                crate::telemetry::record_introspection("refused_cached");
                return Err(AuthError::Token(entry.reason));
            }
            self.refused.remove(&key);
        }
        if self.failed_tokens.get(&key).is_some_and(|until| until > now) {
            crate::telemetry::record_introspection("unavailable");
            return Err(AuthError::IntrospectionUnavailable);
        }
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < self.down_until_ms.load(Ordering::Relaxed) {
            crate::telemetry::record_introspection("unavailable");
            return Err(AuthError::IntrospectionUnavailable);
        }
        // Requests with the same new token at once share one round trip: the first asks, the
        // others wait for its answer (if the first is cancelled, the next one asks).
        let shared = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if in_flight.len() >= MAX_SHARED_ROUND_TRIPS && !in_flight.contains_key(&key) {
                None
            } else {
                Some(Arc::clone(in_flight.entry(key).or_default()))
            }
        };
        let Some(pending) = shared else {
            return self.ask_and_remember(token, key, now, now_ms).await;
        };
        // Leaves the map with its last waiter, answered or cancelled.
        let waiter = Waiter { in_flight: &self.in_flight, key, pending };
        waiter.pending.get_or_init(|| self.ask_and_remember(token, key, now, now_ms)).await.clone()
    }

    /// Counts a failed round trip for `key`; after [`DOWN_AFTER_TOKENS`] distinct tokens within
    /// [`FAILURE_WINDOW`], leaves the endpoint alone for a second.
    fn failed(&self, key: [u8; 32], now_ms: u64) {
        let window = u64::try_from(FAILURE_WINDOW.as_millis()).unwrap_or(u64::MAX);
        let mut head = [0u8; 8];
        head.copy_from_slice(&key[..8]);
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while failures.front().is_some_and(|(at, _)| now_ms.saturating_sub(*at) > window) {
            failures.pop_front();
        }
        if !failures.iter().any(|(_, seen)| *seen == head) {
            failures.push_back((now_ms, head));
        }
        if failures.len() >= DOWN_AFTER_TOKENS {
            let retry_at = now_ms + u64::try_from(RETRY_AFTER_FAILURE.as_millis()).unwrap_or(1000);
            self.down_until_ms.store(retry_at, Ordering::Relaxed);
            failures.clear();
            tracing::warn!(target: "rampart::auth", endpoint = self.endpoint.host_str().unwrap_or_default(), "token introspection failed for several tokens; not asking again for a second");
        }
    }

    /// Asks the endpoint about `token` and caches the answer.
    async fn ask_and_remember(
        &self,
        token: &str,
        key: [u8; 32],
        now: Instant,
        now_ms: u64,
    ) -> Result<Principal, AuthError> {
        let answer = match self.ask(token).await {
            Ok(answer) => answer,
            Err(FetchError::Refused(_)) => None,
            Err(error) => {
                tracing::warn!(target: "rampart::auth", endpoint = self.endpoint.host_str().unwrap_or_default(), %error, "token introspection failed");
                self.failed_tokens.insert(key, now + RETRY_AFTER_FAILURE);
                self.failed(key, now_ms);
                crate::telemetry::record_introspection("error");
                return Err(AuthError::IntrospectionUnavailable);
            }
        };
        match answer.map_or(Err(TokenError::Inactive), |claims| self.principal_of(claims)) {
            Ok((principal, keep)) => {
                crate::telemetry::record_introspection("active");
                if let Some(keep) = keep.filter(|keep| !keep.is_zero()) {
                    self.active.insert(key, Active { principal: principal.clone(), until: now + keep });
                }
                Ok(principal)
            }
            Err(reason) => {
                crate::telemetry::record_introspection("refused");
                if !self.refuse_for.is_zero() {
                    self.refused.insert(key, Refused { reason: reason.clone(), until: now + self.refuse_for });
                }
                Err(AuthError::Token(reason))
            }
        }
    }

    /// One round trip: the claims of an active token, `None` for an inactive one.
    async fn ask(&self, token: &str) -> Result<Option<Map<String, Value>>, FetchError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        // The round trip a request caused continues that request's trace.
        if let Some(traceparent) = crate::trace::outgoing_traceparent() {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await?;
        match response.status() {
            reqwest::StatusCode::OK => {}
            status @ (reqwest::StatusCode::BAD_REQUEST | reqwest::StatusCode::PAYLOAD_TOO_LARGE) => {
                return Err(FetchError::Refused(status));
            }
            status => return Err(FetchError::Status(status)),
        }
        let bytes = super::remote::body_within(response, MAX_INTROSPECTION_BYTES).await?.ok_or(FetchError::TooLarge)?;
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(FetchError::NotAnAnswer("not a JSON object"));
        };
        match claims.get("active") {
            Some(Value::Bool(true)) => Ok(Some(claims)),
            Some(Value::Bool(false)) => Ok(None),
            _ => Err(FetchError::NotAnAnswer("`active` is not a boolean")),
        }
    }

    /// The principal an active answer describes, and how long it may be kept (`None`: not at
    /// all, its `exp` being already past within the leeway).
    fn principal_of(&self, mut claims: Map<String, Value>) -> Result<(Principal, Option<Duration>), TokenError> {
        match claims.get("iss") {
            None => {
                claims.insert("iss".to_owned(), Value::String(self.issuer.clone()));
            }
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(TokenError::WrongIssuer),
        }
        let says = |name: &str, values: &[&str]| {
            claims.get(name).and_then(Value::as_str).is_some_and(|v| values.iter().any(|r| v.eq_ignore_ascii_case(r)))
        };
        if says("token_type", &["refresh_token"])
            || says("token_use", &["refresh_token", "refresh"])
            || says("typ", &["Refresh"])
        {
            return Err(TokenError::WrongType);
        }
        let ours = |aud: &Value| aud.as_str().is_some_and(|aud| self.audiences.iter().any(|a| a == aud));
        match claims.get("aud") {
            None if self.require_audience => return Err(TokenError::MissingClaim("aud")),
            None => {}
            Some(aud @ Value::String(_)) if ours(aud) => {}
            Some(Value::Array(list)) if list.iter().any(ours) => {}
            Some(_) => return Err(TokenError::WrongAudience),
        }
        let keep = match claims.get("exp") {
            None => Some(self.cache_for),
            Some(exp) => {
                let exp = exp.as_u64().ok_or(TokenError::InvalidClaim("`exp` is not a number of seconds"))?;
                let now = unix_now();
                if exp.saturating_add(self.leeway.as_secs()) < now {
                    return Err(TokenError::Expired);
                }
                (exp > now).then(|| self.cache_for.min(Duration::from_secs(exp - now)))
            }
        };
        // A token whose subject is its client, or one without a subject that says it was
        // granted to the client itself, is that client's own: never a user's. Without a subject
        // and without that evidence it could be any user of the client: refused (`sub` missing).
        let client = claims.get("client_id").and_then(Value::as_str).map(str::to_owned);
        let subject = claims.get("sub").and_then(Value::as_str);
        let granted_to_client = says("gty", &["client-credentials", "client_credentials"])
            || says("grant_type", &["client_credentials", "client-credentials"]);
        if let Some(client) = client
            && (subject == Some(client.as_str()) || (subject.is_none() && granted_to_client))
        {
            claims.insert("sub".to_owned(), Value::String(client));
            claims.insert(GRANT_TYPE_CLAIM.to_owned(), Value::String(CLIENT_CREDENTIALS_GRANT.to_owned()));
        }
        claims.remove("active");
        Ok((Principal::from_introspection(claims, &self.mapping)?, keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> IntrospectionVerifier {
        IntrospectionVerifier::builder("http://127.0.0.1:9/introspect".parse().unwrap(), "idp", ["api"])
            .client("api", "secret".to_owned())
            .build()
            .unwrap()
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_client_credentials_are_form_encoded_then_base64() {
        let value = basic_authorization("a b", "p:ss");
        // base64("a+b:p%3Ass")
        assert_eq!(value.to_str().unwrap(), "Basic YStiOnAlM0Fzcw==");
        assert!(value.is_sensitive());
    }

    #[test]
    fn only_https_or_loopback_endpoints_and_only_with_credentials() {
        let remote = IntrospectionVerifier::builder("http://idp.example/i".parse().unwrap(), "idp", ["api"])
            .client("api", "secret".to_owned())
            .build();
        assert!(matches!(remote, Err(IntrospectionSetupError::Insecure(_))));
        let anonymous =
            IntrospectionVerifier::builder("https://idp.example/i".parse().unwrap(), "idp", ["api"]).build();
        assert!(matches!(anonymous, Err(IntrospectionSetupError::NoClient)));
    }

    #[test]
    fn an_answer_is_checked_like_a_token() {
        let v = verifier();
        let now = unix_now();
        let (p, keep) = v
            .principal_of(claims(
                json!({"active": true, "sub": "alice", "scope": "a b", "exp": now + 10, "aud": "api"}),
            ))
            .unwrap();
        assert_eq!((p.subject(), p.issuer(), p.scopes().len()), ("alice", Some("idp"), 2));
        assert_eq!(p.method(), crate::auth::AuthMethod::Introspection);
        assert!(keep.is_some_and(|keep| keep <= Duration::from_secs(10)), "{keep:?}");
        let no_audience = claims(json!({"active": true, "sub": "a"}));
        assert_eq!(v.principal_of(no_audience.clone()).unwrap_err(), TokenError::MissingClaim("aud"));
        let lenient = IntrospectionVerifier::builder("http://127.0.0.1:9/i".parse().unwrap(), "idp", ["api"])
            .client("api", "secret".to_owned())
            .audience_optional()
            .build()
            .unwrap();
        assert!(lenient.principal_of(no_audience).is_ok());
        for refresh in
            [json!({"token_type": "refresh_token"}), json!({"token_use": "refresh_token"}), json!({"typ": "Refresh"})]
        {
            let mut answer = claims(json!({"active": true, "sub": "a", "aud": "api"}));
            answer.extend(claims(refresh));
            assert_eq!(v.principal_of(answer).unwrap_err(), TokenError::WrongType);
        }
        let wrong_issuer = claims(json!({"active": true, "sub": "a", "iss": "other", "aud": "api"}));
        assert_eq!(v.principal_of(wrong_issuer).unwrap_err(), TokenError::WrongIssuer);
        let wrong_audience = claims(serde_json::json!({"active": true, "sub": "a", "aud": ["x", "y"]}));
        assert_eq!(v.principal_of(wrong_audience).unwrap_err(), TokenError::WrongAudience);
        let ours = claims(serde_json::json!({"active": true, "sub": "a", "aud": ["x", "api"]}));
        assert!(v.principal_of(ours).is_ok());
        let expired = claims(json!({"active": true, "sub": "a", "exp": now - 3600, "aud": "api"}));
        assert_eq!(v.principal_of(expired).unwrap_err(), TokenError::Expired);
        for client in [
            json!({"active": true, "client_id": "svc", "aud": "api", "gty": "client-credentials"}),
            json!({"active": true, "client_id": "svc", "aud": "api", "grant_type": "client_credentials"}),
            json!({"active": true, "client_id": "svc", "sub": "svc", "aud": "api"}),
        ] {
            let (p, _) = v.principal_of(claims(client)).unwrap();
            assert_eq!((p.kind(), p.subject()), (crate::auth::PrincipalKind::Client, "svc"));
        }
        let user = claims(json!({"active": true, "client_id": "web", "sub": "alice", "aud": "api"}));
        assert_eq!(v.principal_of(user).unwrap().0.kind(), crate::auth::PrincipalKind::User);
        let nobody = claims(json!({"active": true, "scope": "a", "aud": "api"}));
        assert_eq!(v.principal_of(nobody).unwrap_err(), TokenError::MissingClaim("sub"));
        // A client's token without `sub` and without evidence it is the client's own could be
        // any of its users': refused, not made one principal.
        for anyone in [
            json!({"active": true, "client_id": "web", "aud": "api"}),
            json!({"active": true, "client_id": "web", "aud": "api", "gty": "authorization_code"}),
        ] {
            assert_eq!(v.principal_of(claims(anyone)).unwrap_err(), TokenError::MissingClaim("sub"));
        }
    }
}
