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

use std::sync::Arc;

use serde_json::{Map, Value};

use super::auth_error::TokenError;
use super::contract::Credential;
use super::footprint;

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

    /// The roles claim of `claims`, by the pointer (what `Value::pointer` finds, without parsing
    /// the pointer again for every token).
    fn roles<'c>(&self, claims: &'c Map<String, Value>) -> Option<&'c Value> {
        let path = self.roles_path.as_ref()?;
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(claims.get(first)?, |value, token| match value {
            Value::Object(map) => map.get(token),
            Value::Array(items) => token_index(token).and_then(|i| items.get(i)),
            _ => None,
        })
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
    claims: Value,
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
        let subject = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.as_str(),
            _ => return Err(TokenError::MissingClaim("sub")),
        };
        let mut scopes = match claims.get("scope") {
            None => Vec::new(),
            Some(Value::String(s)) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            Some(_) => return Err(TokenError::InvalidClaim("`scope` is not a string")),
        };
        match claims.get("scp") {
            None => {}
            Some(Value::String(s)) => scopes.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned)),
            Some(value) => scopes.extend(string_array(value).ok_or(TokenError::InvalidClaim("`scp` is not an array"))?),
        }
        scopes.sort_unstable();
        scopes.dedup();
        let roles = match mapping.roles(&claims) {
            None => Vec::new(),
            Some(value) => string_array(value).ok_or(TokenError::InvalidClaim("the roles claim is not an array"))?,
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let kind = match claims.get(GRANT_TYPE_CLAIM) {
            None => PrincipalKind::User,
            Some(Value::String(grant)) if grant == CLIENT_CREDENTIALS_GRANT => PrincipalKind::Client,
            // Another grant's tokens (password, authorization code...) are users'.
            Some(Value::String(_)) => PrincipalKind::User,
            Some(_) => return Err(TokenError::InvalidClaim("`gty` is not a string")),
        };
        let bound_key = match claims.get("cnf") {
            None => None,
            Some(Value::Object(cnf)) => match cnf.get("jkt") {
                None => None,
                Some(Value::String(jkt)) if !jkt.is_empty() => Some(jkt.clone()),
                Some(_) => return Err(TokenError::InvalidClaim("`cnf.jkt` is not a thumbprint")),
            },
            Some(_) => return Err(TokenError::InvalidClaim("`cnf` is not an object")),
        };
        let issuer = claims.get("iss").and_then(Value::as_str);
        let namespace = if kind == PrincipalKind::Client { "client" } else { "jwt" };
        let issuer_start = namespace.len() + 1;
        let issuer_range = issuer.map(|iss| issuer_start..issuer_start + iss.len());
        let qualified_subject = [namespace, ":", issuer.unwrap_or_default(), "#", subject].concat();
        Ok(Self(Arc::new(Inner {
            subject_start: qualified_subject.len() - subject.len(),
            issuer: issuer_range,
            qualified_subject,
            scopes,
            roles,
            client_id: text("client_id").or_else(|| text("azp")),
            token_id: text("jti"),
            expires_at: claims.get("exp").and_then(Value::as_u64),
            bound_key,
            method: AuthMethod::Jwt,
            kind,
            claims: Value::Object(claims),
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
            claims: Value::Object(serde_json::Map::new()),
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

    /// A raw claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }

    /// All claims, as verified.
    pub fn claims(&self) -> &Value {
        &self.0.claims
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
            + footprint::json(&inner.claims)
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
