//! Minting HS256 tokens: development tokens and the tokens of a service's own OAuth endpoint.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use rampart::token::TokenRequest;
//!
//! let secret = b"0123456789abcdef0123456789abcdef";
//! let token = TokenRequest::new("alice", "rampart-dev", "notes")
//!     .scopes(["notes:read"])
//!     .ttl(Duration::from_secs(3600))
//!     .sign_hs256(secret)
//!     .unwrap();
//! assert_eq!(token.split('.').count(), 3);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Header;
pub use jsonwebtoken::{Algorithm, EncodingKey};
use rand::RngCore as _;
use serde_json::{Map, Value, json};

/// The claims of a token to mint.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    claims: Map<String, Value>,
    ttl: Duration,
}

impl TokenRequest {
    /// A token for `sub`, issued by `iss` for `aud`, valid one hour, with a random `jti`.
    pub fn new(sub: &str, iss: &str, aud: &str) -> Self {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(sub));
        claims.insert("iss".into(), json!(iss));
        claims.insert("aud".into(), json!(aud));
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        claims.insert("jti".into(), json!(jti.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        Self { claims, ttl: Duration::from_secs(3600) }
    }

    /// Grants scopes (the space-separated `scope` claim).
    pub fn scopes<S: AsRef<str>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claims.insert("scope".into(), json!(scopes.join(" ")));
        self
    }

    /// Gives roles (the `roles` claim).
    pub fn roles<S: AsRef<str>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        let roles: Vec<String> = roles.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claims.insert("roles".into(), json!(roles));
        self
    }

    /// Sets any other claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Sets the lifetime.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Signs with HS256.
    ///
    /// # Errors
    ///
    /// jsonwebtoken's error when the secret is unusable.
    pub fn sign_hs256(self, secret: &[u8]) -> Result<String, jsonwebtoken::errors::Error> {
        let key = EncodingKey::from_secret(secret)?;
        self.sign(Algorithm::HS256, &key)
    }

    /// Signs with `key` under `algorithm` (an ES256 PEM key: `EncodingKey::from_ec_pem`).
    ///
    /// # Errors
    ///
    /// jsonwebtoken's error when the key does not fit the algorithm.
    pub fn sign(mut self, algorithm: Algorithm, key: &EncodingKey) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.claims.entry("iat").or_insert(json!(now));
        self.claims.entry("exp").or_insert(json!(now + self.ttl.as_secs()));
        jsonwebtoken::encode(&Header::new(algorithm), &self.claims, key)
    }
}
