//! DPoP proofs (RFC 9449): a JWT the client signs with its own key for each request, which binds
//! an access token to that key, so that a stolen token is useless without the key.
//!
//! [`DpopVerifier::verify`] checks a proof in full, as RFC 9449 §4.3 lists: one proof, a compact
//! JWS with `typ: dpop+jwt`, an allowed asymmetric `alg`, a public `jwk` in its header (no private
//! member) that verifies the signature, `htm` equal to the request's method, `htu` equal to the
//! request's URI without query and fragment (both normalized, RFC 3986 §6.2.2–6.2.3, against the
//! service's public URL behind a proxy), `iat` within the window, a `jti` never seen within it
//! ([`ReplayCache`]), and `ath` equal to the hash of the access token it comes with. The result is
//! the key's RFC 7638 thumbprint, which a bound token's `cnf.jkt` must equal.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::dpop::{DpopVerifier, ProofRequest, thumbprint};
//!
//! // RFC 7638 §3.1's example key and thumbprint: what a bound token's `cnf.jkt` holds.
//! let jwk = serde_json::json!({
//!     "kty": "RSA",
//!     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
//!     "e": "AQAB",
//!     "alg": "RS256",
//!     "kid": "2011-04-29",
//! });
//! assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
//! let verifier = DpopVerifier::new();
//! let refused = verifier.verify("not a proof", &ProofRequest::new("GET", "https://api.example/notes"), None);
//! assert_eq!(refused.unwrap_err().to_string(), "the DPoP proof is not a compact JWS");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

pub use crate::vocabulary::auth_error::{DPOP_ALGORITHMS, DpopError};

use super::jose::Compact;

/// The algorithms a proof may be signed with: asymmetric only (§4.2), the ones clients use (the
/// `algs` of the challenge, [`DPOP_ALGORITHMS`]).
pub const ALGORITHMS: [Algorithm; 5] =
    [Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA, Algorithm::RS256, Algorithm::PS256];

/// How far back a proof's `iat` may be (and, with [`DEFAULT_IAT_LEEWAY`], forward).
pub const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);

/// Clock skew accepted in both directions on `iat`.
pub const DEFAULT_IAT_LEEWAY: Duration = Duration::from_secs(5);

/// The largest proof accepted, in bytes (an RSA-4096 `jwk` makes a proof of about 1.5 KB).
pub const MAX_PROOF_BYTES: usize = 8192;

/// The longest `jti` accepted.
pub const MAX_JTI_BYTES: usize = 256;

/// The header that carries a DPoP proof.
pub const DPOP_HEADER: &str = "dpop";

/// The header a server sends its DPoP nonce in (RFC 9449 §8.1).
pub const NONCE_HEADER: axum::http::HeaderName = axum::http::HeaderName::from_static("dpop-nonce");

/// The request's `DPoP` proof: `None` without one.
///
/// # Errors
///
/// [`DpopError::Missing`] for more than one `DPoP` header (§4.3: exactly one proof),
/// [`DpopError::Malformed`] for one that is not ASCII.
pub fn proof_header(headers: &axum::http::HeaderMap) -> Result<Option<&str>, DpopError> {
    let mut proofs = headers.get_all(DPOP_HEADER).iter();
    match (proofs.next(), proofs.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(DpopError::Missing),
        (Some(proof), None) => proof.to_str().map(Some).map_err(|_| DpopError::Malformed),
    }
}

/// What a proof is checked against: the request's method and URI.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'r> {
    method: &'r str,
    uri: &'r str,
}

impl<'r> ProofRequest<'r> {
    /// A request by `method` for `uri`, the absolute URI the client called (behind a proxy: the
    /// service's public URL with the request's path, see [`request_uri`]).
    pub fn new(method: &'r str, uri: &'r str) -> Self {
        Self { method, uri }
    }
}

/// The absolute URI a client called: `public_url` (the service's public origin and base path,
/// `RAMPART_PUBLIC_URL`) joined with the request's path. The query is dropped: `htu` has none.
///
/// ```
/// assert_eq!(rampart::auth::dpop::request_uri("https://api.example", "/notes/7?x=1"), "https://api.example/notes/7");
/// assert_eq!(rampart::auth::dpop::request_uri("https://api.example/v1/", "/notes"), "https://api.example/v1/notes");
/// ```
pub fn request_uri(public_url: &str, path_and_query: &str) -> String {
    let path = path_and_query.split(['?', '#']).next().unwrap_or("");
    format!("{}/{}", public_url.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// A proof that passed: its key's thumbprint (for `cnf.jkt`), and what a shared replay store
/// records of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    /// SHA-256 of the key's thumbprint and the proof's `jti`: the proof's identity.
    pub id: [u8; 32],
    /// How long, in seconds, the proof must be remembered (its `iat` window).
    pub keep_secs: u64,
}

/// A replay store shared by the instances of a service (Redis), consulted after the instance's
/// own [`ReplayCache`]: a proof used at one instance is refused at every other within its window.
pub trait SharedReplays: Send + Sync + 'static {
    /// Records `id` for `keep_secs` seconds: `Ok(true)` when it was new, `Ok(false)` when it was
    /// already recorded (a replay).
    ///
    /// # Errors
    ///
    /// The store did not answer; the proof is then refused (503), never let through unchecked.
    fn first_use<'a>(
        &'a self,
        id: &'a [u8; 32],
        keep_secs: u64,
    ) -> super::revocation::BoxFuture<'a, Result<bool, ReplayStoreError>>;
}

/// The shared replay store did not answer.
#[derive(Debug, thiserror::Error)]
#[error("DPoP replay store unavailable: {0}")]
pub struct ReplayStoreError(pub String);

/// Checks DPoP proofs; holds the replay cache.
pub struct DpopVerifier {
    window: Duration,
    leeway: Duration,
    replay: ReplayCache,
    /// Imported proof keys by thumbprint (a client signs every proof with the same key; the
    /// thumbprint names exactly one public key).
    keys: quick_cache::sync::Cache<String, std::sync::Arc<jsonwebtoken::DecodingKey>>,
    /// Server nonces every proof must carry, when required (RFC 9449 §9).
    nonces: Option<super::NonceIssuer>,
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("window", &self.window)
            .field("leeway", &self.leeway)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// Proof keys kept imported.
const KEY_CACHE_ENTRIES: usize = 10_000;

impl Default for DpopVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopVerifier {
    /// [`ALGORITHMS`], [`DEFAULT_IAT_WINDOW`], [`DEFAULT_IAT_LEEWAY`], and a replay cache of
    /// [`ReplayCache::DEFAULT_CAPACITY`] proofs.
    pub fn new() -> Self {
        Self {
            window: DEFAULT_IAT_WINDOW,
            leeway: DEFAULT_IAT_LEEWAY,
            replay: ReplayCache::new(ReplayCache::DEFAULT_CAPACITY),
            keys: quick_cache::sync::Cache::new(KEY_CACHE_ENTRIES),
            nonces: None,
        }
    }

    /// Remembers at most `capacity` live proofs (each caller at most
    /// 1/[`ReplayCache::CALLER_SHARE`] of a shard).
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.replay = ReplayCache::new(capacity);
        self
    }

    /// Requires every proof to carry a `nonce` that `nonces` issued within its lifetime.
    pub fn nonces(mut self, nonces: super::NonceIssuer) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// A fresh nonce, when proofs must carry one.
    pub fn issue_nonce(&self) -> Option<String> {
        self.nonces.as_ref().map(super::NonceIssuer::issue)
    }

    /// Accepts an `iat` up to `window` old.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The `algs` of a `WWW-Authenticate: DPoP` challenge (§7.1): the accepted algorithms.
    pub fn algs(&self) -> &'static str {
        DPOP_ALGORITHMS
    }

    /// Checks `proof` for `request`, and for `access_token` when the proof comes with one (then
    /// its `ath` must be the token's hash).
    ///
    /// # Errors
    ///
    /// The first [`DpopError`] found, in the order of RFC 9449 §4.3.
    pub fn verify(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        access_token: Option<&str>,
    ) -> Result<VerifiedProof, DpopError> {
        self.verify_at(proof, request, access_token, None, SystemTime::now())
    }

    /// [`Self::verify`] for a request that presents a token bound to the key
    /// `bound_jkt` (`cnf.jkt`; `None`: the token is not bound) on behalf of `caller` (its
    /// qualified subject). The binding is checked before the proof is recorded, and the proofs
    /// of one caller take at most a bounded share of the replay cache: no caller can fill what
    /// the others need.
    ///
    /// # Errors
    ///
    /// As [`Self::verify`]; [`DpopError::KeyMismatch`] when the proof is not
    /// signed with the token's key (then its `jti` is not used up).
    pub fn verify_bound(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        access_token: &str,
        bound_jkt: Option<&str>,
        caller: &str,
    ) -> Result<VerifiedProof, DpopError> {
        self.verify_at(proof, request, Some(access_token), Some((bound_jkt, caller)), SystemTime::now())
    }

    fn verify_at(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        access_token: Option<&str>,
        bound: Option<(Option<&str>, &str)>,
        now: SystemTime,
    ) -> Result<VerifiedProof, DpopError> {
        if proof.len() > MAX_PROOF_BYTES {
            return Err(DpopError::TooLarge);
        }
        let compact = Compact::split(proof).map_err(|_| DpopError::Malformed)?;
        let header = decode_object(compact.header)?;
        match header.get("typ").and_then(Value::as_str) {
            Some("dpop+jwt") => {}
            _ => return Err(DpopError::WrongType),
        }
        if ["jku", "x5u", "x5c", "crit"].iter().any(|member| header.contains_key(*member)) {
            return Err(DpopError::Header);
        }
        let algorithm = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|alg| alg.parse::<Algorithm>().ok())
            .filter(|alg| ALGORITHMS.contains(alg))
            .ok_or(DpopError::Algorithm)?;
        let jwk = header.get("jwk").and_then(Value::as_object).ok_or(DpopError::Key)?;
        if PRIVATE_MEMBERS.iter().any(|member| jwk.contains_key(*member)) {
            return Err(DpopError::Key);
        }
        let jkt = thumbprint_of(jwk).ok_or(DpopError::Key)?;
        let key = match self.keys.get(&jkt) {
            Some(key) => key,
            None => {
                let parsed: jsonwebtoken::jwk::Jwk =
                    serde_json::from_value(Value::Object(jwk.clone())).map_err(|_| DpopError::Key)?;
                let key =
                    std::sync::Arc::new(jsonwebtoken::DecodingKey::from_jwk(&parsed).map_err(|_| DpopError::Key)?);
                self.keys.insert(jkt.clone(), std::sync::Arc::clone(&key));
                key
            }
        };
        let verified =
            jsonwebtoken::crypto::verify(compact.signature, compact.signing_input.as_bytes(), &key, algorithm)
                .map_err(|_| DpopError::Signature)?;
        if !verified {
            return Err(DpopError::Signature);
        }

        let claims = decode_object(compact.payload).map_err(|_| DpopError::Claims)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).ok_or(DpopError::Claims);
        let jti = text("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
            return Err(DpopError::Claims);
        }
        if text("htm")? != request.method {
            return Err(DpopError::Method);
        }
        if !same_uri(text("htu")?, request.uri) {
            return Err(DpopError::Uri);
        }
        let iat = claims.get("iat").and_then(Value::as_u64).ok_or(DpopError::Claims)?;
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (oldest, newest) = (
            now_secs.saturating_sub((self.window + self.leeway).as_secs()),
            now_secs.saturating_add(self.leeway.as_secs()),
        );
        if iat < oldest || iat > newest {
            return Err(DpopError::IssuedAt);
        }
        // RFC 9449 §4.3 step 10: the nonce the server provided.
        if let Some(nonces) = &self.nonces
            && !claims.get("nonce").and_then(Value::as_str).is_some_and(|nonce| nonces.accepts(nonce))
        {
            return Err(DpopError::UseNonce);
        }
        match (access_token, claims.get("ath")) {
            (None, _) => {}
            (Some(token), Some(Value::String(ath))) if *ath == token_hash(token) => {}
            (Some(_), _) => return Err(DpopError::AccessTokenHash),
        }
        // The token's key, before the proof is recorded: a proof of another key uses up nothing.
        if let Some((bound_jkt, _)) = bound
            && bound_jkt != Some(jkt.as_str())
        {
            return Err(DpopError::KeyMismatch);
        }
        // Last, so that a proof refused for any other reason does not use up its `jti`. Counted
        // against its caller's share (at the token endpoint, its key's).
        let keep_secs = newest.saturating_sub(oldest);
        let id = replay_id(&jkt, jti);
        let owner = bound.map_or(jkt.as_str(), |(_, caller)| caller);
        self.replay.first_use(owner, &id, now_secs, keep_secs)?;
        Ok(VerifiedProof { jkt, id, keep_secs })
    }
}

/// The members only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A base64url JSON object, refused if a member appears twice (the last would win silently).
fn decode_object(segment: &str) -> Result<Map<String, Value>, DpopError> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| DpopError::Malformed)?;
    let members: Vec<(String, Value)> = serde_json::from_slice::<Members>(&bytes).map_err(|_| DpopError::Malformed)?.0;
    let mut object = Map::new();
    for (name, value) in members {
        if object.insert(name, value).is_some() {
            return Err(DpopError::Header);
        }
    }
    Ok(object)
}

/// A JSON object's members in order, duplicates kept.
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    if members.len() == 32 {
                        return Err(serde::de::Error::custom("too many members"));
                    }
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// The RFC 7638 SHA-256 thumbprint (base64url) of a public JWK: its required members, in
/// lexicographic order, without whitespace. `None` for a key type it does not know or a member
/// that is missing or not a string.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    thumbprint_of(jwk.as_object()?)
}

fn thumbprint_of(jwk: &Map<String, Value>) -> Option<String> {
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, member) in required.iter().enumerate() {
        let value = jwk.get(*member)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&serde_json::to_string(member).ok()?);
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (§4.2).
pub fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Whether two absolute URIs are the same once normalized (RFC 3986 §6.2.2, §6.2.3): scheme and
/// host compared without case, a default port dropped, an empty path as `/`, percent-encodings
/// of unreserved characters decoded and the rest upper-cased, dot segments removed; query and
/// fragment ignored (§4.3: `htu` has none).
fn same_uri(a: &str, b: &str) -> bool {
    match (normalized(a), normalized(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalized(uri: &str) -> Option<String> {
    let url = reqwest::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    // `Url` lower-cases scheme and host, drops default ports, removes dot segments and gives an
    // empty path as `/`; what is left is the percent-encoding of the path.
    let mut out = format!("{}://{}", url.scheme(), url.host_str()?);
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let path = url.path().as_bytes();
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' && i + 2 < path.len() {
            let hex = std::str::from_utf8(&path[i + 1..i + 3]).ok()?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(byte as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(path[i] as char);
            i += 1;
        }
    }
    Some(out)
}

/// The `jti`s of the proofs seen within the window, per key: a proof is accepted once.
///
/// Bounded: when full of proofs still inside their window, new proofs are refused
/// ([`DpopError::Busy`]) rather than old ones forgotten, since a forgotten `jti` could be
/// replayed. Each caller (the qualified subject of the token; at the token endpoint, the proof's
/// key) holds at most [`ReplayCache::CALLER_SHARE`] of its shard, and shards are chosen by the
/// caller with a per-process random salt: one caller's flood of proofs refuses its own proofs,
/// never another's. In memory, so per instance: instances behind one load balancer also consult
/// a [`SharedReplays`] store (Redis, with `RAMPART_RATE_LIMIT=redis://...`).
#[derive(Debug)]
pub struct ReplayCache {
    /// Live proofs per shard.
    capacity: usize,
    /// Live proofs per caller.
    per_caller: usize,
    /// Shards by the salted hash of the caller: threads checking proofs at once rarely wait for
    /// each other, and nobody can aim at a shard.
    shards: Vec<Mutex<Shard>>,
    salt: [u8; 16],
}

/// One shard: each caller's proofs (by the SHA-256 of the caller), and how many there are.
#[derive(Debug, Default)]
struct Shard {
    callers: HashMap<[u8; 32], HashMap<[u8; 32], u64>>,
    proofs: usize,
}

impl Shard {
    /// Forgets the proofs past their window (of one caller, or of all).
    fn expire(&mut self, now: u64, caller: Option<&[u8; 32]>) {
        let mut removed = 0;
        let mut prune = |proofs: &mut HashMap<[u8; 32], u64>| {
            let before = proofs.len();
            proofs.retain(|_, until| *until >= now);
            removed += before - proofs.len();
        };
        match caller {
            Some(caller) => {
                if let Some(proofs) = self.callers.get_mut(caller) {
                    prune(proofs);
                }
            }
            None => self.callers.values_mut().for_each(&mut prune),
        }
        self.callers.retain(|_, proofs| !proofs.is_empty());
        self.proofs -= removed;
    }
}

/// The replay cache's shards.
const REPLAY_SHARDS: usize = 16;

impl ReplayCache {
    /// Proofs remembered at once by default (each 40 bytes and the map's overhead).
    pub const DEFAULT_CAPACITY: usize = 1_000_000;
    /// The part of a shard one caller may hold: 1/16 (at the default capacity, 3,906 live
    /// proofs, one request every 17 ms for a 65 s window).
    pub const CALLER_SHARE: usize = 16;

    /// A cache of at most `capacity` proofs.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.div_ceil(REPLAY_SHARDS).max(1);
        Self {
            capacity,
            per_caller: capacity.div_ceil(Self::CALLER_SHARE).max(1),
            shards: (0..REPLAY_SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            salt: rand::random(),
        }
    }

    /// Records the proof `id` of `caller` at `now` (seconds), kept for `window` seconds.
    ///
    /// # Errors
    ///
    /// [`DpopError::Replayed`] when it was seen within the window; [`DpopError::Busy`] when the
    /// caller's share, or its shard, is full of proofs inside their window.
    fn first_use(&self, caller: &str, id: &[u8; 32], now: u64, window: u64) -> Result<(), DpopError> {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(caller.as_bytes());
        let caller: [u8; 32] = hasher.finalize().into();
        let mut shard = self.shards[usize::from(caller[0]) % REPLAY_SHARDS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.callers.get(&caller).and_then(|proofs| proofs.get(id)).is_some_and(|until| *until >= now) {
            return Err(DpopError::Replayed);
        }
        if shard.callers.get(&caller).is_some_and(|proofs| proofs.len() >= self.per_caller) {
            shard.expire(now, Some(&caller));
            if shard.callers.get(&caller).is_some_and(|proofs| proofs.len() >= self.per_caller) {
                return Err(DpopError::Busy);
            }
        }
        if shard.proofs >= self.capacity {
            shard.expire(now, None);
            if shard.proofs >= self.capacity {
                return Err(DpopError::Busy);
            }
        }
        if shard.callers.entry(caller).or_default().insert(*id, now.saturating_add(window)).is_none() {
            shard.proofs += 1;
        }
        Ok(())
    }
}

/// A proof's identity: SHA-256 of its key's thumbprint and its `jti` (two keys may pick the same
/// `jti`).
fn replay_id(jkt: &str, jti: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(jkt.as_bytes());
    hasher.update([0]);
    hasher.update(jti.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_compare_after_normalization() {
        for (a, b) in [
            ("https://API.example/notes", "https://api.example/notes"),
            ("https://api.example:443/notes", "https://api.example/notes"),
            ("http://api.example:80", "http://api.example/"),
            ("https://api.example/a/./b/../notes", "https://api.example/a/notes"),
            ("https://api.example/%7Enotes", "https://api.example/~notes"),
            ("https://api.example/n%2fb", "https://api.example/n%2Fb"),
            ("https://api.example/notes?x=1", "https://api.example/notes"),
        ] {
            assert!(same_uri(a, b), "{a} = {b}");
        }
        for (a, b) in [
            ("https://api.example/notes", "http://api.example/notes"),
            ("https://api.example/notes", "https://api.example:8443/notes"),
            ("https://api.example/notes", "https://api.example/Notes"),
            ("https://api.example/notes", "https://evil.example/notes"),
            ("/notes", "/notes"),
        ] {
            assert!(!same_uri(a, b), "{a} != {b}");
        }
    }

    #[test]
    fn a_replayed_jti_is_refused_within_its_window_and_the_cache_is_bounded() {
        // 32 proofs in all: 2 per shard, so 1 per caller.
        let cache = ReplayCache::new(32);
        assert_eq!(cache.first_use("alice", &replay_id("k", "a"), 100, 65), Ok(()));
        assert_eq!(cache.first_use("alice", &replay_id("k", "a"), 120, 65), Err(DpopError::Replayed));
        // Alice's share is full: her next proof is refused, not an old one forgotten...
        assert_eq!(cache.first_use("alice", &replay_id("k", "b"), 120, 65), Err(DpopError::Busy));
        // ...while another caller's proofs are still taken.
        assert_eq!(cache.first_use("bob", &replay_id("other", "a"), 120, 65), Ok(()));
        assert_eq!(
            cache.first_use("alice", &replay_id("k", "a"), 160, 65),
            Err(DpopError::Replayed),
            "nothing live was forgotten"
        );
        assert_eq!(cache.first_use("alice", &replay_id("k", "late"), 300, 65), Ok(()));
    }

    #[test]
    fn one_callers_flood_does_not_refuse_anothers_proofs() {
        let cache = ReplayCache::new(ReplayCache::DEFAULT_CAPACITY);
        let mut refused = 0;
        for i in 0..100_000 {
            if cache.first_use("mallory", &replay_id("m", &format!("flood-{i}")), 100, 65) == Err(DpopError::Busy) {
                refused += 1;
            }
        }
        assert_eq!(refused, 100_000 - cache.per_caller, "the flood is held to one share");
        for caller in 0..1_000 {
            let caller = format!("user-{caller}");
            assert_eq!(cache.first_use(&caller, &replay_id(&caller, "p"), 100, 65), Ok(()), "{caller}");
        }
    }
}
