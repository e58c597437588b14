//! An OAuth 2.0 token endpoint for the client-credentials grant (RFC 6749 §4.4).
//!
//! [`TokenEndpoint::grant`] takes the request's headers and form body and answers per the RFC:
//! clients authenticate with `client_secret_basic` (§2.3.1, the id and secret form-encoded inside
//! the Basic credentials) or `client_secret_post`, never both; `scope` is optional (default: every
//! scope the client is allowed) and a scope outside the allowance is `invalid_scope`. Errors are
//! JSON objects with `error` and `error_description` (§5.2); a failed client authentication is 401
//! `invalid_client` with `WWW-Authenticate: Basic`; every answer carries `Cache-Control: no-store`
//! and no refresh token is issued. Secrets are compared as SHA-256 digests in constant time, an
//! unknown client costs the same as a wrong secret, and neither is ever logged or echoed. Every
//! grant and refusal is an audit event with the client id as subject.
//!
//! With a lockout ([`TokenEndpoint::with_lockout`]), a wrong client secret is a guess, counted
//! per client IP and per client id: once either is locked, further wrong secrets get 429 with
//! `Retry-After` (`{"error": "temporarily_unavailable"}`), while the right secret is still
//! granted, so a client whose id an attacker knows is never locked out of its own tokens.
//!
//! Tokens carry `gty: "client-credentials"` (the claim Auth0 uses for this grant): the
//! [`crate::auth::Principal`] they verify to is a client, whose qualified subject
//! (`client:<iss>#<id>`) can never equal a user's, even when the client id equals a user's `sub`.
//!
//! # Examples
//!
//! ```
//! use axum::http::HeaderMap;
//! use axum::response::IntoResponse as _;
//! use rampart::audit::RequestContext;
//! use rampart::oauth::{ClientCredential, TokenEndpoint};
//!
//! let secret = b"0123456789abcdef0123456789abcdef";
//! let endpoint = TokenEndpoint::new("rampart-dev", "notes", secret.to_vec())
//!     .client(ClientCredential::new("reporting", "a-long-client-secret", ["notes:read"]));
//! let body = b"grant_type=client_credentials&client_id=reporting&client_secret=a-long-client-secret";
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let reply = endpoint.grant(&RequestContext::default(), &form_headers(), body).await.into_response();
//! assert_eq!(reply.status(), 200);
//! # });
//! # fn form_headers() -> HeaderMap {
//! #     let mut h = HeaderMap::new();
//! #     h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
//! #     h
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::audit::{AuditEvent, Decision, RequestContext};
use crate::config::Config;
use crate::lockout::{Failure, Lockout, LockoutKey};
use crate::openapi::{DescribeResponse, OperationDoc};
use crate::token::TokenRequest;

/// The longest token lifetime the endpoint grants.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A client allowed to use the grant: its id, the SHA-256 of its secret, its scopes.
#[derive(Clone)]
pub struct ClientCredential {
    id: String,
    secret_digest: [u8; 32],
    scopes: Vec<String>,
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredential").field("id", &self.id).field("scopes", &self.scopes).finish_non_exhaustive()
    }
}

impl ClientCredential {
    /// A client `id` authenticating with `secret`, allowed `scopes`.
    pub fn new<S: Into<String>>(id: impl Into<String>, secret: &str, scopes: impl IntoIterator<Item = S>) -> Self {
        Self::from_sha256(id, Sha256::digest(secret.as_bytes()).into(), scopes)
    }

    /// A client whose secret is known only by its SHA-256 digest (the configuration never
    /// holds the secret).
    pub fn from_sha256<S: Into<String>>(
        id: impl Into<String>,
        secret_digest: [u8; 32],
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        Self { id: id.into(), secret_digest, scopes: scopes.into_iter().map(Into::into).collect() }
    }
}

/// The token endpoint: the registered clients and how tokens are signed. See the
/// [module docs](self).
#[derive(Clone)]
pub struct TokenEndpoint {
    clients: Vec<ClientCredential>,
    issuer: String,
    audience: String,
    signing_secret: Vec<u8>,
    ttl: Duration,
    lockout: Option<Arc<Lockout>>,
    /// DPoP-bound tokens (RFC 9449 §5): the proof check and this endpoint's public URL.
    dpop: Option<Arc<(crate::auth::dpop::DpopVerifier, String)>>,
    /// The nonces its proofs must carry, when required.
    dpop_nonces: Option<crate::auth::NonceIssuer>,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("clients", &self.clients)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .field("lockout", &self.lockout.is_some())
            .finish_non_exhaustive()
    }
}

/// A refusal, per RFC 6749 §5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    InvalidRequest(&'static str),
    InvalidClient,
    UnsupportedGrantType,
    InvalidScope(&'static str),
    /// A wrong secret from a locked-out IP or for a locked-out client id.
    LockedOut(Duration),
    /// A DPoP proof that does not pass (RFC 9449 §5).
    InvalidDpopProof,
    /// A DPoP proof without the nonce this endpoint requires (RFC 9449 §8).
    UseDpopNonce,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::InvalidRequest(_) => "invalid_request",
            Refusal::InvalidClient => "invalid_client",
            Refusal::UnsupportedGrantType => "unsupported_grant_type",
            Refusal::InvalidScope(_) => "invalid_scope",
            Refusal::LockedOut(_) => "temporarily_unavailable",
            Refusal::InvalidDpopProof => "invalid_dpop_proof",
            Refusal::UseDpopNonce => "use_dpop_nonce",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Refusal::InvalidRequest(why) | Refusal::InvalidScope(why) => why,
            Refusal::InvalidClient => "client authentication failed",
            Refusal::UnsupportedGrantType => "only the client_credentials grant is supported",
            Refusal::LockedOut(_) => "too many failed client authentications; retry later",
            Refusal::InvalidDpopProof => "the DPoP proof is invalid",
            Refusal::UseDpopNonce => "sign the proof again with the nonce in DPoP-Nonce",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refusal::InvalidClient => StatusCode::UNAUTHORIZED,
            Refusal::LockedOut(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A refusal, with the client id when the client did authenticate (for the audit event).
type Refused = (Refusal, Option<String>);

/// What a failed client authentication presented, for the lockout: a secret was compared and
/// did not match (or the Basic credentials were unreadable, `id` then `None`).
#[derive(Debug)]
struct Guess {
    id: Option<String>,
}

/// The client's authentication, as presented.
struct Presented<'a> {
    id: Cow<'a, str>,
    secret: Cow<'a, str>,
}

impl TokenEndpoint {
    /// An endpoint issuing HS256 tokens for `audience` from `issuer`, signed with `signing_secret`
    /// (the key the service verifies with), valid one hour.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, signing_secret: Vec<u8>) -> Self {
        Self {
            clients: Vec::new(),
            issuer: issuer.into(),
            audience: audience.into(),
            signing_secret,
            ttl: DEFAULT_TOKEN_TTL,
            lockout: None,
            dpop: None,
            dpop_nonces: None,
        }
    }

    /// Issues DPoP-bound tokens (`cnf.jkt`, `"token_type": "DPoP"`) to requests with a valid
    /// `DPoP` proof for `POST url`, this endpoint's public URL (RFC 9449 §5); requests without
    /// one still get bearer tokens.
    pub fn with_dpop(mut self, url: impl Into<String>) -> Self {
        self.dpop = Some(Arc::new((self.dpop_verifier(), url.into())));
        self
    }

    fn dpop_verifier(&self) -> crate::auth::dpop::DpopVerifier {
        let verifier = crate::auth::dpop::DpopVerifier::new();
        match &self.dpop_nonces {
            Some(nonces) => verifier.nonces(nonces.clone()),
            None => verifier,
        }
    }

    /// Requires a fresh server nonce in every DPoP proof sent here (RFC 9449 §8), issued by
    /// `nonces`: a proof without one is answered `400 {"error": "use_dpop_nonce"}` with a nonce in
    /// `DPoP-Nonce` (while [`TokenEndpoint::with_dpop`] binds tokens, in either order).
    pub fn with_dpop_nonces(mut self, nonces: crate::auth::NonceIssuer) -> Self {
        self.dpop_nonces = Some(nonces);
        if let Some(url) = self.dpop.as_ref().map(|dpop| dpop.1.clone()) {
            self.dpop = Some(Arc::new((self.dpop_verifier(), url)));
        }
        self
    }

    /// Counts wrong client secrets in `lockout`, per client IP and per client id (see the
    /// [module docs](self)).
    pub fn with_lockout(mut self, lockout: Arc<Lockout>) -> Self {
        self.lockout = Some(lockout);
        self
    }

    /// The endpoint of a configuration: its `RAMPART_OAUTH_CLIENTS`, its issuer and first
    /// audience, signed with `RAMPART_JWT_SECRET` (or the generated dev key). `None` when tokens
    /// are verified with keys this service cannot sign with (PEM public keys, JWKS).
    pub fn from_config(config: &Config) -> Option<Self> {
        let secret = config.jwt.secret_bytes()?;
        let audience = config.jwt.audiences.first()?.clone();
        let mut endpoint = Self::new(config.jwt.issuer.clone(), audience, secret.to_vec());
        for client in &config.oauth_clients {
            use secrecy::ExposeSecret as _;
            let scopes = client.scopes.iter().cloned();
            endpoint = endpoint.client(match &client.secret {
                crate::config::ClientSecret::Plain(secret) => {
                    ClientCredential::new(client.id.clone(), secret.expose_secret(), scopes)
                }
                crate::config::ClientSecret::Sha256(digest) => {
                    ClientCredential::from_sha256(client.id.clone(), *digest, scopes)
                }
            });
        }
        Some(endpoint)
    }

    /// Registers a client.
    pub fn client(mut self, client: ClientCredential) -> Self {
        self.clients.push(client);
        self
    }

    /// Sets the lifetime of issued tokens.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Answers one token request.
    pub async fn grant(&self, ctx: &RequestContext, headers: &HeaderMap, body: &[u8]) -> TokenResponse {
        TokenResponse(self.answer(ctx, headers, body).await)
    }

    /// Counts a guessed client secret; the time left when the IP or the client id is locked.
    async fn locked_after_guess(&self, ctx: &RequestContext, guess: &Guess) -> Option<Duration> {
        let lockout = self.lockout.as_ref()?;
        let mut keys = vec![LockoutKey::ip(ctx.client_ip)];
        // Only ids of registered clients: counting invented ones would let anyone grow the map.
        let registered = guess.id.as_deref().filter(|id| self.clients.iter().any(|c| c.id == *id));
        keys.extend(registered.map(LockoutKey::Client));
        let mut locked = None;
        for key in &keys {
            match lockout.failure(key).await {
                Failure::AlreadyLocked(left) => locked = locked.max(Some(left)),
                Failure::Locked(_) => {
                    AuditEvent::new(ctx, Decision::Lockout, "client_authentication_failures", 429).emit();
                }
                Failure::Counted => {}
            }
        }
        locked
    }

    async fn answer(&self, ctx: &RequestContext, headers: &HeaderMap, body: &[u8]) -> Response {
        let mut guess = None;
        let decided = self.decide(headers, body, &mut guess);
        let decided = match (decided, guess) {
            (Err(refused), Some(guess)) => match self.locked_after_guess(ctx, &guess).await {
                Some(left) => Err((Refusal::LockedOut(left), None)),
                None => Err(refused),
            },
            (decided, _) => decided,
        };
        // The proof is checked once the client authenticated: it binds the token to be issued.
        let bound: Option<String> = match &decided {
            Ok((client, _)) => match self.dpop_key(headers) {
                Ok(jkt) => jkt,
                Err(error) => {
                    let event = AuditEvent::new(ctx, Decision::Deny, error.audit_reason(), 400).subject(&client.id);
                    event.emit();
                    let refusal = if error == crate::auth::dpop::DpopError::UseNonce {
                        Refusal::UseDpopNonce
                    } else {
                        Refusal::InvalidDpopProof
                    };
                    let mut response = refusal_response(refusal);
                    // Where nonces are required, every refused proof learns the next one to use.
                    let nonce = self.dpop.as_ref().and_then(|dpop| dpop.0.issue_nonce());
                    if let Some(value) = nonce.and_then(|nonce| HeaderValue::from_str(&nonce).ok()) {
                        response.headers_mut().insert(crate::auth::dpop::NONCE_HEADER, value);
                    }
                    return response;
                }
            },
            Err(_) => None,
        };
        match decided {
            Ok((client, scopes)) => match self.issue(client, &scopes, bound) {
                Ok(response) => {
                    AuditEvent::new(ctx, Decision::Allow, "token_issued", 200).subject(&client.id).emit();
                    response
                }
                Err(error) => error.into_response(),
            },
            Err((refusal, client_id)) => {
                let mut event = AuditEvent::new(ctx, Decision::Deny, refusal.code(), refusal.status().as_u16());
                if let Some(id) = &client_id {
                    event = event.subject(id);
                }
                event.emit();
                refusal_response(refusal)
            }
        }
    }

    /// The authenticated client and the scopes to grant, or the refusal (with the client id
    /// when it authenticated, for the audit event).
    fn decide(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        guess: &mut Option<Guess>,
    ) -> Result<(&ClientCredential, Vec<String>), Refused> {
        let params = form_params(headers, body)?;
        let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let grant_type = param("grant_type").ok_or((Refusal::InvalidRequest("grant_type is missing"), None))?;
        if grant_type != "client_credentials" {
            return Err((Refusal::UnsupportedGrantType, None));
        }
        let client = self.client_of(headers, &params, guess)?;
        let refuse = |refusal| (refusal, Some(client.id.clone()));

        let scopes: Vec<String> = match param("scope") {
            None => client.scopes.clone(),
            Some(requested) => {
                let requested: Vec<&str> = requested.split(' ').collect();
                if requested.iter().any(|s| s.is_empty()) {
                    return Err(refuse(Refusal::InvalidScope("scope must be scope tokens separated by single spaces")));
                }
                if !requested.iter().all(|s| client.scopes.iter().any(|allowed| allowed == s)) {
                    return Err(refuse(Refusal::InvalidScope("a requested scope is not allowed for this client")));
                }
                let mut granted: Vec<String> = Vec::with_capacity(requested.len());
                for scope in requested {
                    if !granted.iter().any(|g| g == scope) {
                        granted.push(scope.to_owned());
                    }
                }
                granted
            }
        };
        Ok((client, scopes))
    }

    /// The client a request authenticates as, with `client_secret_basic` or `client_secret_post`
    /// (never both); `guess` notes a wrong secret for the lockout.
    fn client_of(
        &self,
        headers: &HeaderMap,
        params: &[(Cow<'_, str>, Cow<'_, str>)],
        guess: &mut Option<Guess>,
    ) -> Result<&ClientCredential, Refused> {
        let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let from_header = match headers.get_all(AUTHORIZATION).iter().count() {
            0 => None,
            1 => match basic_credentials(headers) {
                Some(presented) => Some(presented),
                None => {
                    *guess = Some(Guess { id: None });
                    return Err((Refusal::InvalidClient, None));
                }
            },
            _ => return Err((Refusal::InvalidRequest("more than one Authorization header"), None)),
        };
        let presented = match (from_header, param("client_id"), param("client_secret")) {
            (Some(_), _, Some(_)) => {
                return Err((Refusal::InvalidRequest("use one client authentication method, not two"), None));
            }
            // A Basic client may also name itself in the body (§4.4 allows it): the same client.
            (Some(p), Some(id), None) if id != p.id => {
                return Err((Refusal::InvalidRequest("client_id differs from the authenticated client"), None));
            }
            (Some(p), _, None) => p,
            (None, Some(id), Some(secret)) => Presented { id, secret },
            (None, _, _) => return Err((Refusal::InvalidClient, None)),
        };
        let Some(client) = self.authenticate(&presented) else {
            *guess = Some(Guess { id: Some(presented.id.into_owned()) });
            return Err((Refusal::InvalidClient, None));
        };
        Ok(client)
    }

    /// The client whose id and secret match, comparing every client's digest in constant time
    /// so that an unknown id costs what a wrong secret does.
    fn authenticate(&self, presented: &Presented<'_>) -> Option<&ClientCredential> {
        let digest: [u8; 32] = Sha256::digest(presented.secret.as_bytes()).into();
        let mut found = None;
        for client in &self.clients {
            let id_matches = client.id.as_bytes().ct_eq(presented.id.as_bytes());
            let secret_matches = client.secret_digest.ct_eq(&digest);
            if bool::from(id_matches & secret_matches) {
                found = Some(client);
            }
        }
        found
    }

    /// Answers one introspection request (RFC 7662 §2): the client authenticates as at the token
    /// endpoint; `token` is looked up with `authenticator` (signature, expiry, revocation). An
    /// active token is described (`scope`, `client_id`, `sub`, `exp`, `iss`, `aud`, `jti`,
    /// `token_type`, `cnf` for a bound one and `gty` for a client's own token); anything else is
    /// `{"active": false}` and nothing more.
    pub async fn introspect(
        &self,
        ctx: &RequestContext,
        headers: &HeaderMap,
        body: &[u8],
        authenticator: &crate::auth::Authenticator,
    ) -> IntrospectionResponse {
        let mut guess = None;
        let decided = form_params(headers, body).and_then(|params| {
            let token = params.iter().find(|(n, _)| n == "token").map(|(_, v)| v.clone().into_owned());
            let client = self.client_of(headers, &params, &mut guess)?;
            let token = token.ok_or((Refusal::InvalidRequest("token is missing"), Some(client.id.clone())))?;
            Ok((client, token))
        });
        let (client, token) = match decided {
            Ok(found) => found,
            Err((refusal, client_id)) => {
                let refusal = match &guess {
                    Some(guess) => match self.locked_after_guess(ctx, guess).await {
                        Some(left) => Refusal::LockedOut(left),
                        None => refusal,
                    },
                    None => refusal,
                };
                let mut event = AuditEvent::new(ctx, Decision::Deny, refusal.code(), refusal.status().as_u16());
                if let Some(id) = &client_id {
                    event = event.subject(id);
                }
                event.emit();
                return IntrospectionResponse(refusal_response(refusal));
            }
        };
        let body = match authenticator.introspect(&token).await {
            Some(principal) => {
                let mut active = serde_json::json!({
                    "active": true,
                    "scope": principal.scopes().join(" "),
                    "sub": principal.subject(),
                    "token_type": if principal.bound_key().is_some() { "DPoP" } else { "Bearer" },
                });
                let fields = [
                    ("client_id", principal.client_id().map(serde_json::Value::from)),
                    ("iss", principal.issuer().map(serde_json::Value::from)),
                    ("jti", principal.token_id().map(serde_json::Value::from)),
                    ("exp", principal.expires_at().map(serde_json::Value::from)),
                    ("cnf", principal.bound_key().map(|jkt| serde_json::json!({"jkt": jkt}))),
                    ("aud", principal.claim("aud")),
                    // An OAuth client's own token: resource servers must not take it for a user's.
                    (
                        crate::auth::GRANT_TYPE_CLAIM,
                        (principal.kind() == crate::auth::PrincipalKind::Client)
                            .then(|| serde_json::Value::from(crate::auth::CLIENT_CREDENTIALS_GRANT)),
                    ),
                ];
                for (name, value) in fields {
                    if let Some(value) = value {
                        active[name] = value;
                    }
                }
                active
            }
            None => serde_json::json!({"active": false}),
        };
        AuditEvent::new(ctx, Decision::Allow, "token_introspected", 200).subject(&client.id).emit();
        IntrospectionResponse(json_response(StatusCode::OK, &body))
    }

    /// The thumbprint of the request's DPoP key, when it sent one proof and this endpoint issues
    /// bound tokens.
    fn dpop_key(&self, headers: &HeaderMap) -> Result<Option<String>, crate::auth::dpop::DpopError> {
        use crate::auth::dpop::{ProofRequest, proof_header};
        let Some(dpop) = &self.dpop else { return Ok(None) };
        let Some(proof) = proof_header(headers)? else { return Ok(None) };
        let (verifier, url) = dpop.as_ref();
        Ok(Some(verifier.verify(proof, &ProofRequest::new("POST", url), None)?.jkt))
    }

    fn issue(
        &self,
        client: &ClientCredential,
        scopes: &[String],
        bound: Option<String>,
    ) -> Result<Response, crate::Error> {
        let mut token = TokenRequest::new(&client.id, &self.issuer, &self.audience);
        if let Some(jkt) = &bound {
            token = token.claim("cnf", serde_json::json!({"jkt": jkt}));
        }
        let token = token
            .scopes(scopes)
            .claim("client_id", serde_json::Value::String(client.id.clone()))
            .claim(
                crate::auth::GRANT_TYPE_CLAIM,
                serde_json::Value::String(crate::auth::CLIENT_CREDENTIALS_GRANT.into()),
            )
            .ttl(self.ttl)
            .sign_hs256(&self.signing_secret)
            .map_err(|e| crate::Error::Internal(Box::new(e)))?;
        let body = serde_json::json!({
            "access_token": token,
            "token_type": if bound.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": self.ttl.as_secs(),
            "scope": scopes.join(" "),
        });
        Ok(json_response(StatusCode::OK, &body))
    }
}

/// A form body's parameters: name and value.
type FormParams<'b> = Vec<(Cow<'b, str>, Cow<'b, str>)>;

/// The parameters of a form body, each at most once.
fn form_params<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<FormParams<'b>, Refused> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err((Refusal::InvalidRequest("the body must be application/x-www-form-urlencoded"), None));
    }
    let mut params: FormParams<'b> = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.iter().any(|(seen, _)| *seen == name) {
            return Err((Refusal::InvalidRequest("a parameter is repeated"), None));
        }
        params.push((name, value));
    }
    Ok(params)
}

/// `client_secret_basic`: `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<Presented<'static>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some(Presented { id: Cow::Owned(form_decode(id)?), secret: Cow::Owned(form_decode(secret)?) })
}

/// Decodes one application/x-www-form-urlencoded component (`+` is a space).
fn form_decode(component: &str) -> Option<String> {
    let spaced = component.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(Cow::into_owned)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The token endpoint's answer: a token (RFC 6749 §5.1) or an error (§5.2). Returned from a
/// handler, it also documents the operation: the form body, the token, and the 400/401 error
/// objects (which are RFC 6749 JSON, not problem+json).
#[derive(Debug)]
pub struct TokenResponse(Response);

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

impl DescribeResponse for TokenResponse {
    fn describe_response(doc: &mut OperationDoc) {
        use utoipa::openapi::{ContentBuilder, ResponseBuilder};
        let form = doc.schema_of::<schema::TokenRequestForm>();
        doc.request_body("application/x-www-form-urlencoded", form);
        let token = doc.schema_of::<schema::AccessToken>();
        doc.success_body("application/json", token);
        let error = doc.schema_of::<schema::OAuthError>();
        for (status, description) in [
            (400, "invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)"),
            (401, "invalid_client: client authentication failed (RFC 6749 §5.2)"),
        ] {
            let content = ContentBuilder::new().schema(Some(error.clone())).build();
            doc.response(
                status,
                ResponseBuilder::new().description(description).content("application/json", content).build(),
            );
        }
    }
}

/// The answer of [`TokenEndpoint::introspect`]. As the return type of an introspection handler,
/// it documents the operation: the form body, the RFC 7662 answer and the error objects.
#[derive(Debug)]
pub struct IntrospectionResponse(Response);

impl IntoResponse for IntrospectionResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

impl DescribeResponse for IntrospectionResponse {
    fn describe_response(doc: &mut OperationDoc) {
        use utoipa::openapi::{ContentBuilder, ResponseBuilder};
        let form = doc.schema_of::<schema::IntrospectionForm>();
        doc.request_body("application/x-www-form-urlencoded", form);
        let answer = doc.schema_of::<schema::Introspection>();
        doc.success_body("application/json", answer);
        let error = doc.schema_of::<schema::OAuthError>();
        for (status, description) in [
            (400, "invalid_request: the form or the token parameter is missing (RFC 6749 §5.2)"),
            (401, "invalid_client: client authentication failed (RFC 6749 §5.2)"),
        ] {
            let content = ContentBuilder::new().schema(Some(error.clone())).build();
            doc.response(
                status,
                ResponseBuilder::new().description(description).content("application/json", content).build(),
            );
        }
    }
}

/// The shapes [`TokenResponse`] documents; only read by the OpenAPI generator.
mod schema {
    #![allow(dead_code, reason = "documentation types: their fields are read by utoipa's derive, not by code")]

    use utoipa::ToSchema;

    /// `POST /oauth/token` form (RFC 6749 §4.4.2); the client authenticates with HTTP Basic or
    /// with `client_id` and `client_secret` here, not both.
    #[derive(ToSchema)]
    pub(super) struct TokenRequestForm {
        grant_type: GrantType,
        /// Space-separated scopes, each allowed for the client (default: all of them).
        scope: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    }

    /// The only grant supported.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum GrantType {
        ClientCredentials,
    }

    /// An access token (RFC 6749 §5.1); no refresh token is issued.
    #[derive(ToSchema)]
    pub(super) struct AccessToken {
        access_token: String,
        /// Always `Bearer`.
        token_type: String,
        /// Seconds until the token expires.
        expires_in: u64,
        /// The granted scopes, space-separated.
        scope: String,
    }

    /// `POST /oauth/introspect` form (RFC 7662 §2.1); the client authenticates as at the token
    /// endpoint.
    #[derive(ToSchema)]
    pub(super) struct IntrospectionForm {
        /// The token to describe.
        token: String,
        /// Ignored: every token this service issues is an access token.
        token_type_hint: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    }

    /// What the introspection endpoint says of a token (RFC 7662 §2.2): only `active` when it
    /// is not.
    #[derive(ToSchema)]
    pub(super) struct Introspection {
        /// Whether the token is valid now (signature, expiry, revocation).
        active: bool,
        /// Its scopes, space-separated.
        scope: Option<String>,
        client_id: Option<String>,
        sub: Option<String>,
        iss: Option<String>,
        jti: Option<String>,
        /// Expiry, in seconds since the epoch.
        exp: Option<u64>,
        /// `Bearer`, or `DPoP` for a token bound to a key.
        token_type: Option<String>,
        /// The key a DPoP-bound token is bound to (`{"jkt": thumbprint}`, RFC 9449 §6.2).
        cnf: Option<Confirmation>,
        /// The audience(s) the token is for.
        aud: Option<String>,
        /// `client-credentials` for an OAuth client's own token (not a user's).
        gty: Option<String>,
    }

    /// A key confirmation (RFC 7800).
    #[derive(ToSchema)]
    pub(super) struct Confirmation {
        /// The RFC 7638 thumbprint of the key.
        jkt: String,
    }

    /// An error of the token endpoint (RFC 6749 §5.2).
    #[derive(ToSchema)]
    pub(super) struct OAuthError {
        error: OAuthErrorCode,
        error_description: Option<String>,
    }

    /// The error codes the endpoint answers with.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum OAuthErrorCode {
        InvalidRequest,
        InvalidClient,
        UnsupportedGrantType,
        InvalidScope,
    }
}

fn refusal_response(refusal: Refusal) -> Response {
    let body = serde_json::json!({"error": refusal.code(), "error_description": refusal.description()});
    let mut response = json_response(refusal.status(), &body);
    match refusal {
        Refusal::InvalidClient => {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"token\""));
        }
        Refusal::LockedOut(left) => {
            let seconds = left.as_secs_f64().ceil().max(1.0).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret+x");
        headers.insert(AUTHORIZATION, format!("Basic {raw}").parse().unwrap());
        let presented = basic_credentials(&headers).unwrap();
        assert_eq!(presented.id, "my app");
        assert_eq!(presented.secret, "s:cret x");
    }

    fn endpoint() -> TokenEndpoint {
        TokenEndpoint::new("i", "a", b"signing-secret-signing-secret-32".to_vec()).client(ClientCredential::new(
            "app",
            "the-client-secret",
            ["read", "write"],
        ))
    }

    fn form(basic: Option<(&str, &str)>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        if let Some((id, secret)) = basic {
            let raw = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            headers.insert(AUTHORIZATION, format!("Basic {raw}").parse().unwrap());
        }
        headers
    }

    #[test]
    fn repeated_requested_scopes_are_granted_once() {
        let body = b"grant_type=client_credentials&client_id=app&client_secret=the-client-secret&scope=read write read";
        let (_, scopes) = endpoint().decide(&form(None), body, &mut None).unwrap();
        assert_eq!(scopes, ["read", "write"]);
    }

    #[test]
    fn a_basic_client_may_name_itself_in_the_body_but_not_another() {
        let basic = Some(("app", "the-client-secret"));
        let same = b"grant_type=client_credentials&client_id=app";
        assert!(endpoint().decide(&form(basic), same, &mut None).is_ok());
        let other = b"grant_type=client_credentials&client_id=someone-else";
        let (refusal, _) = endpoint().decide(&form(basic), other, &mut None).unwrap_err();
        assert_eq!(refusal.code(), "invalid_request");
        let secret_twice = b"grant_type=client_credentials&client_id=app&client_secret=the-client-secret";
        assert_eq!(endpoint().decide(&form(basic), secret_twice, &mut None).unwrap_err().0.code(), "invalid_request");
        let half = b"grant_type=client_credentials&client_id=app";
        assert_eq!(endpoint().decide(&form(None), half, &mut None).unwrap_err().0.code(), "invalid_client");
    }

    #[test]
    fn the_debug_output_never_shows_a_secret() {
        let endpoint = TokenEndpoint::new("i", "a", b"signing-secret-signing-secret-32".to_vec())
            .client(ClientCredential::new("app", "the-client-secret", ["s"]));
        let text = format!("{endpoint:?}");
        assert!(!text.contains("the-client-secret") && !text.contains("signing-secret"), "{text}");
    }
}
