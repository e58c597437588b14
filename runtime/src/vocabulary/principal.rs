//! The authenticated caller, and how token claims map onto it.
//!
//! Claim mapping is explicit: scopes come from `scope` (space-separated string) or `scp` (array
//! of strings, or a string); roles from the claim at a configurable JSON pointer (default
//! `/roles`; Keycloak uses `/realm_access/roles`); the client id from `client_id` or `azp`.
//!
//! A token whose `gty` claim is `client-credentials` ([`CLIENT_CREDENTIALS_GRANT`], what
//! Rampart's token endpoint and Auth0 write) belongs to an OAuth client, not to a user: its
//! [`PrincipalKind`] is `Client` and its qualified subject `client:<iss>#<sub>`, which can
//! never equal a user's `jwt:<iss>#<sub>`, even when a client id equals a user's `sub`.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{ClaimMapping, Principal};
//! use serde_json::json;
//!
//! let claims = json!({"sub": "alice", "scope": "notes:read notes:write", "realm_access": {"roles": ["admin"]}});
//! let mapping = ClaimMapping::default().with_roles_pointer("/realm_access/roles");
//! let principal = Principal::from_claims(claims, &mapping).unwrap();
//! assert_eq!(principal.subject(), "alice");
//! assert!(principal.has_scope("notes:write"));
//! assert!(principal.has_role("admin"));
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::auth_error::TokenError;
use super::contract::Credential;
use super::footprint;
use super::payload::{self, Members};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A bearer JWT.
    Jwt,
    /// An `X-API-Key`.
    ApiKey,
    /// An access token described by an introspection endpoint (RFC 7662).
    Introspection,
}

/// The claim that names the grant a token was issued by (`gty`).
pub const GRANT_TYPE_CLAIM: &str = "gty";
/// The [`GRANT_TYPE_CLAIM`] value of client-credentials tokens.
pub const CLIENT_CREDENTIALS_GRANT: &str = "client-credentials";

/// Whom a principal stands for. Each kind has its own qualified-subject namespace, so that
/// ownership, rate limits, lockouts and audit events never mix two identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A user's token: `jwt:<iss>#<sub>`.
    User,
    /// An OAuth client's own token (client-credentials grant): `client:<iss>#<sub>`.
    Client,
    /// An API key: `apikey:<id>`.
    ApiKey,
}

/// Where roles and scopes are read from in a token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    roles_pointer: String,
    /// The pointer's reference tokens, unescaped once (`None`: the pointer is not `""` and does
    /// not start with `/`, so it points nowhere).
    roles_path: Option<Vec<String>>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self { roles_pointer: String::new(), roles_path: None }.with_roles_pointer("/roles")
    }
}

impl ClaimMapping {
    /// Reads roles from the array at this JSON pointer (RFC 6901), for example `/realm_access/roles`.
    pub fn with_roles_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.roles_pointer = pointer.into();
        self.roles_path = match self.roles_pointer.as_str() {
            "" => Some(Vec::new()),
            pointer => pointer
                .strip_prefix('/')
                .map(|tokens| tokens.split('/').map(|token| token.replace("~1", "/").replace("~0", "~")).collect()),
        };
        self
    }

    /// The member the roles pointer starts at (its first reference token), if it points into
    /// the claims.
    pub(crate) fn roles_member(&self) -> Option<&str> {
        self.roles_path.as_ref()?.first().map(String::as_str)
    }

    /// The roles, by the pointer from `member`, the value of [`Self::roles_member`] (what
    /// `Value::pointer` finds, without parsing the pointer again for every token): `None` when
    /// the pointer finds nothing, `Some(Err)` when it finds something other than an array of
    /// strings.
    fn roles(&self, member: Option<&RawValue>) -> Option<Result<Vec<String>, TokenError>> {
        let (member, rest) = (member?, self.roles_path.as_deref()?.get(1..)?);
        let not_array = || TokenError::InvalidClaim("the roles claim is not an array");
        if rest.is_empty() {
            let roles = payload::texts(member).ok_or_else(not_array);
            return Some(roles.map(|roles| roles.into_iter().map(Cow::into_owned).collect()));
        }
        let value: Value = serde_json::from_str(member.get()).ok()?;
        let found = rest.iter().try_fold(&value, |value, token| match value {
            Value::Object(map) => map.get(token),
            Value::Array(items) => token_index(token).and_then(|i| items.get(i)),
            _ => None,
        })?;
        Some(string_array(found).ok_or_else(not_array))
    }

    /// The JSON pointer roles are read from.
    pub fn roles_pointer(&self) -> &str {
        &self.roles_pointer
    }
}

/// The authenticated caller: subject, scopes, roles, client id and the raw claims.
///
/// Cheap to clone (one reference count).
#[derive(Debug, Clone)]
pub struct Principal(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// `<namespace>:<iss>#<sub>` or `apikey:<id>`: the subject and the issuer are slices of it
    /// (one allocation for the three).
    qualified_subject: String,
    /// Where the subject starts in `qualified_subject` (it runs to the end).
    subject_start: usize,
    /// Where the issuer is in `qualified_subject`, when there is one.
    issuer: Option<std::ops::Range<usize>>,
    scopes: Vec<String>,
    roles: Vec<String>,
    client_id: Option<String>,
    token_id: Option<String>,
    expires_at: Option<u64>,
    /// `cnf.jkt`: the thumbprint of the key the token is bound to (RFC 9449 §6.1).
    bound_key: Option<String>,
    method: AuthMethod,
    kind: PrincipalKind,
    /// The claims as the token carried them (its payload's JSON text): parsed only when asked.
    payload: Box<str>,
}

impl Principal {
    /// Builds a principal from verified JWT claims.
    ///
    /// # Errors
    ///
    /// [`TokenError::MissingClaim`] when `sub` is absent or not a string, [`TokenError::Malformed`]
    /// when `scope`, `scp` or the roles claim has the wrong shape (a wrong shape is refused, not
    /// read as "no scopes").
    pub fn from_claims(claims: Value, mapping: &ClaimMapping) -> Result<Self, TokenError> {
        match claims {
            Value::Object(claims) => Self::from_verified_claims(claims, mapping),
            _ => Err(TokenError::MissingClaim("sub")),
        }
    }

    /// [`Self::from_claims`] of a claims object.
    pub(crate) fn from_verified_claims(claims: Map<String, Value>, mapping: &ClaimMapping) -> Result<Self, TokenError> {
        Self::from_payload(Value::Object(claims).to_string(), mapping, |_| Ok(()))
    }

    /// Builds a principal from a token's claims as JSON text (its payload), read once;
    /// `check` sees the members first (the registered-claim checks) and can refuse them.
    pub(crate) fn from_payload(
        payload: String,
        mapping: &ClaimMapping,
        check: impl FnOnce(&Members<'_>) -> Result<(), TokenError>,
    ) -> Result<Self, TokenError> {
        let claims = Members::read(&payload, mapping.roles_member())?;
        check(&claims)?;
        let subject = match claims.sub.and_then(payload::text) {
            Some(sub) if !sub.is_empty() => sub,
            _ => return Err(TokenError::MissingClaim("sub")),
        };
        let words = |text: &str| text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let mut scopes = match claims.scope {
            None => Vec::new(),
            Some(raw) => words(&payload::text(raw).ok_or(TokenError::InvalidClaim("`scope` is not a string"))?),
        };
        match claims.scp {
            None => {}
            Some(raw) => match payload::text(raw) {
                Some(scp) => scopes.extend(words(&scp)),
                None => scopes.extend(
                    payload::texts(raw)
                        .ok_or(TokenError::InvalidClaim("`scp` is not an array"))?
                        .into_iter()
                        .map(Cow::into_owned),
                ),
            },
        }
        scopes.sort_unstable();
        scopes.dedup();
        let roles = mapping.roles(claims.roles).transpose()?.unwrap_or_default();
        let text = |raw: Option<&RawValue>| raw.and_then(payload::text).map(Cow::into_owned);
        let kind = match claims.gty {
            None => PrincipalKind::User,
            Some(raw) => match payload::text(raw) {
                Some(grant) if grant == CLIENT_CREDENTIALS_GRANT => PrincipalKind::Client,
                // Another grant's tokens (password, authorization code...) are users'.
                Some(_) => PrincipalKind::User,
                None => return Err(TokenError::InvalidClaim("`gty` is not a string")),
            },
        };
        let bound_key = match claims.cnf.map(|raw| serde_json::from_str::<Value>(raw.get())) {
            None => None,
            Some(Ok(Value::Object(cnf))) => match cnf.get("jkt") {
                None => None,
                Some(Value::String(jkt)) if !jkt.is_empty() => Some(jkt.clone()),
                Some(_) => return Err(TokenError::InvalidClaim("`cnf.jkt` is not a thumbprint")),
            },
            Some(_) => return Err(TokenError::InvalidClaim("`cnf` is not an object")),
        };
        let issuer = claims.iss.and_then(payload::text);
        let namespace = if kind == PrincipalKind::Client { "client" } else { "jwt" };
        let issuer_start = namespace.len() + 1;
        let issuer_range = issuer.as_ref().map(|iss| issuer_start..issuer_start + iss.len());
        let qualified_subject = [namespace, ":", issuer.as_deref().unwrap_or_default(), "#", &subject].concat();
        let client_id = text(claims.client_id).or_else(|| text(claims.azp));
        let token_id = text(claims.jti);
        // A NumericDate may be a float (RFC 7519 §2): read as the check reads it, so that such a
        // token is cached and described with its `exp` like any other.
        let expires_at = payload::numeric_date(claims.exp).and_then(Result::ok);
        let subject_start = qualified_subject.len() - subject.len();
        Ok(Self(Arc::new(Inner {
            subject_start,
            issuer: issuer_range,
            qualified_subject,
            scopes,
            roles,
            client_id,
            token_id,
            expires_at,
            bound_key,
            method: AuthMethod::Jwt,
            kind,
            payload: payload.into_boxed_str(),
        })))
    }

    /// [`Self::from_verified_claims`] of an introspection endpoint's answer.
    pub(crate) fn from_introspection(claims: Map<String, Value>, mapping: &ClaimMapping) -> Result<Self, TokenError> {
        let mut principal = Self::from_verified_claims(claims, mapping)?;
        if let Some(inner) = Arc::get_mut(&mut principal.0) {
            inner.method = AuthMethod::Introspection;
        }
        Ok(principal)
    }

    /// Builds a principal for an API key (its id is the subject).
    pub fn for_api_key(key_id: &str, scopes: &[String], roles: &[String]) -> Self {
        Self(Arc::new(Inner {
            subject_start: "apikey:".len(),
            qualified_subject: format!("apikey:{key_id}"),
            scopes: scopes.to_vec(),
            roles: roles.to_vec(),
            client_id: Some(key_id.to_owned()),
            issuer: None,
            token_id: None,
            expires_at: None,
            bound_key: None,
            method: AuthMethod::ApiKey,
            kind: PrincipalKind::ApiKey,
            payload: Box::from("{}"),
        }))
    }

    /// The kind of credential it was authenticated with: an API key, a DPoP-bound token (only
    /// those carry a bound key: a bound token sent as `Bearer` is refused), or a bearer token.
    #[inline]
    pub fn credential(&self) -> Credential {
        if self.0.method == AuthMethod::ApiKey {
            Credential::ApiKey
        } else if self.0.bound_key.is_some() {
            Credential::Dpop
        } else {
            Credential::Bearer
        }
    }

    /// Whom this principal stands for: a user, an OAuth client, or an API key.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::auth::{ClaimMapping, Principal, PrincipalKind};
    /// use serde_json::json;
    ///
    /// let mapping = ClaimMapping::default();
    /// let user = Principal::from_claims(json!({"sub": "dev-user", "iss": "idp"}), &mapping).unwrap();
    /// let client =
    ///     Principal::from_claims(json!({"sub": "dev-user", "iss": "idp", "gty": "client-credentials"}), &mapping)
    ///         .unwrap();
    /// assert_eq!((user.kind(), client.kind()), (PrincipalKind::User, PrincipalKind::Client));
    /// assert_eq!(user.qualified_subject(), "jwt:idp#dev-user");
    /// assert_eq!(client.qualified_subject(), "client:idp#dev-user");
    /// ```
    pub fn kind(&self) -> PrincipalKind {
        self.0.kind
    }

    /// The `sub` claim (or the API key id).
    pub fn subject(&self) -> &str {
        &self.0.qualified_subject[self.0.subject_start..]
    }

    /// The caller's identity across schemes and issuers: `jwt:<iss>#<sub>` or `apikey:<id>`.
    ///
    /// # Security
    ///
    /// Compare this, not [`Self::subject`], to decide ownership: two trusted issuers may both
    /// have an `alice`, and an API key id or an OAuth client id may equal a user's `sub`.
    pub fn qualified_subject(&self) -> &str {
        &self.0.qualified_subject
    }

    /// The granted scopes, sorted and deduplicated.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// The roles.
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// Whether the caller has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
    }

    /// The OAuth client (`client_id` or `azp`), if named.
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.0.issuer.clone().map(|range| &self.0.qualified_subject[range])
    }

    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6.1): such a token
    /// is accepted only with a DPoP proof signed by that key.
    pub fn bound_key(&self) -> Option<&str> {
        self.0.bound_key.as_deref()
    }

    /// The token id (`jti`).
    pub fn token_id(&self) -> Option<&str> {
        self.0.token_id.as_deref()
    }

    /// Expiry, Unix seconds.
    pub fn expires_at(&self) -> Option<u64> {
        self.0.expires_at
    }

    /// How the caller authenticated.
    pub fn method(&self) -> AuthMethod {
        self.0.method
    }

    /// A raw claim by name, parsed from the token's payload on each call (keep what you need).
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::auth::{ClaimMapping, Principal};
    /// use serde_json::json;
    ///
    /// let principal = Principal::from_claims(json!({"sub": "ada", "org": {"id": 7}}), &ClaimMapping::default()).unwrap();
    /// assert_eq!(principal.claim("org"), Some(json!({"id": 7})));
    /// assert_eq!(principal.claim("team"), None);
    /// ```
    pub fn claim(&self, name: &str) -> Option<Value> {
        match self.claims() {
            Value::Object(mut claims) => claims.remove(name),
            _ => None,
        }
    }

    /// All claims, as verified: a JSON object parsed from the token's payload on each call (the
    /// principal keeps the payload's text, not a parsed tree, so that verifying a token costs
    /// no tree nobody reads).
    pub fn claims(&self) -> Value {
        serde_json::from_str(&self.0.payload).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// The claims' JSON text: a JWT's payload as the token carried it, or the introspection
    /// endpoint's answer as Rampart read it (`{}` for an API key).
    pub fn claims_json(&self) -> &str {
        &self.0.payload
    }

    /// What this principal holds on the heap, by the allocator's measure (see
    /// [`footprint`](super::footprint)): what the verification cache charges for it.
    pub(crate) fn heap_bytes(&self) -> u64 {
        let inner = &*self.0;
        let optional = |text: &Option<String>| text.as_ref().map_or(0, footprint::string);
        // The reference counts and the fields, in one allocation.
        footprint::chunk(2 * std::mem::size_of::<usize>() + std::mem::size_of::<Inner>())
            + footprint::string(&inner.qualified_subject)
            + footprint::strings(&inner.scopes)
            + footprint::strings(&inner.roles)
            + optional(&inner.client_id)
            + optional(&inner.token_id)
            + optional(&inner.bound_key)
            + footprint::chunk(inner.payload.len())
    }
}

fn string_array(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// An array index of a JSON pointer (RFC 6901: digits, no leading zero).
fn token_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_float_exp_is_the_expiry_the_check_reads() {
        let p = Principal::from_claims(json!({"sub": "s", "exp": 1_900_000_000.4}), &ClaimMapping::default()).unwrap();
        assert_eq!(p.expires_at(), Some(1_900_000_000), "cached until then and described with it");
        let p = Principal::from_claims(json!({"sub": "s", "exp": 1_900_000_000}), &ClaimMapping::default()).unwrap();
        assert_eq!(p.expires_at(), Some(1_900_000_000));
        let p = Principal::from_claims(json!({"sub": "s", "exp": "soon"}), &ClaimMapping::default()).unwrap();
        assert_eq!(p.expires_at(), None);
    }

    #[test]
    fn scp_array_and_scope_string_merge() {
        let p =
            Principal::from_claims(json!({"sub":"s","scope":"a b","scp":["c","a"]}), &ClaimMapping::default()).unwrap();
        assert_eq!(p.scopes(), ["a", "b", "c"]);
    }

    #[test]
    fn roles_are_found_where_a_json_pointer_finds_them() {
        let claims = json!({
            "sub": "s",
            "roles": ["a"],
            "realm_access": {"roles": ["b"]},
            "a/b": {"m~n": ["c"]},
            "groups": [["d"], ["e"]],
            "": ["f"],
        });
        for pointer in
            ["/roles", "/realm_access/roles", "/a~1b/m~0n", "/groups/1", "/groups/01", "/missing/x", "/", "roles"]
        {
            let mapping = ClaimMapping::default().with_roles_pointer(pointer);
            let principal = Principal::from_claims(claims.clone(), &mapping).unwrap();
            let expected = claims.pointer(pointer).map(|v| string_array(v).unwrap()).unwrap_or_default();
            assert_eq!(principal.roles(), expected, "{pointer}");
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let m = ClaimMapping::default();
        assert!(Principal::from_claims(json!({"scope":"a"}), &m).is_err());
        assert!(Principal::from_claims(json!({"sub":"s","scope":["a"]}), &m).is_err());
        assert!(Principal::from_claims(json!({"sub":"s","roles":"admin"}), &m).is_err());
        assert!(Principal::from_claims(json!({"sub":"s","scp":[1]}), &m).is_err());
    }
}
