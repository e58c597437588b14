//! API keys (`X-API-Key`), a second scheme beside bearer tokens.
//!
//! Only SHA-256 hashes of the keys are stored; a presented key is hashed and compared against
//! every stored hash in constant time, so neither the comparison nor the lookup order leaks how
//! much of a key matched. Each key carries its own scopes and roles.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{ApiKey, ApiKeys};
//!
//! let keys = ApiKeys::default().with(ApiKey::from_plaintext("ci-bot", "k3y-that-is-long-and-random", ["notes:read"]));
//! let principal = keys.verify("k3y-that-is-long-and-random").unwrap();
//! assert_eq!(principal.subject(), "ci-bot");
//! assert!(keys.verify("wrong").is_none());
//! ```

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Principal;

/// One API key: its id, the SHA-256 of its value, and what it may do.
#[derive(Clone)]
pub struct ApiKey {
    id: String,
    hash: [u8; 32],
    scopes: Vec<String>,
    roles: Vec<String>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey").field("id", &self.id).field("scopes", &self.scopes).finish_non_exhaustive()
    }
}

impl ApiKey {
    /// A key from its stored SHA-256 hash, as 64 hex digits.
    ///
    /// # Errors
    ///
    /// A message when `sha256_hex` is not 64 hex digits.
    pub fn from_sha256_hex<S: Into<String>>(
        id: impl Into<String>,
        sha256_hex: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Result<Self, String> {
        let bytes = sha256_hex.as_bytes();
        if bytes.len() != 64 {
            return Err("an API key hash is 64 hex digits (SHA-256)".into());
        }
        let mut hash = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            hash[i] = u8::from_str_radix(text, 16).map_err(|_| "an API key hash is hex".to_owned())?;
        }
        Ok(Self { id: id.into(), hash, scopes: scopes.into_iter().map(Into::into).collect(), roles: Vec::new() })
    }

    /// A key from its plaintext value (hashed at once; the plaintext is not kept).
    pub fn from_plaintext<S: Into<String>>(
        id: impl Into<String>,
        key: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            id: id.into(),
            hash: Sha256::digest(key.as_bytes()).into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            roles: Vec::new(),
        }
    }

    /// Gives the key roles.
    pub fn with_roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// The set of accepted API keys.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    /// Adds a key.
    pub fn with(mut self, key: ApiKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Whether no key is configured (then `X-API-Key` is always refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The principal of the presented key, if it is one of ours.
    ///
    /// # Security
    ///
    /// Every stored hash is compared, in constant time, whatever matches first.
    pub fn verify(&self, presented: &str) -> Option<Principal> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&hash)) && found.is_none() {
                found = Some(key);
            }
        }
        found.map(|key| Principal::for_api_key(&key.id, &key.scopes, &key.roles))
    }
}
