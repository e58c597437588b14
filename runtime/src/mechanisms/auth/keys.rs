//! Verification keys, each pinned to one algorithm.
//!
//! A key is created for exactly one [`Algorithm`]; a token is only ever checked with the algorithm
//! of the key it selects, never with the one its header names. That closes `alg: none` and the
//! HS256-signed-with-the-RSA-public-key confusion: a token whose header disagrees with the key is
//! rejected before its signature is looked at.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::{Algorithm, VerificationKey};
//!
//! let key = VerificationKey::from_secret(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
//! assert_eq!(key.algorithm(), Algorithm::HS256);
//! assert!(VerificationKey::from_secret(Algorithm::HS256, b"short").is_err());
//! // HS512 needs a 64-byte secret (RFC 7518 §3.2).
//! assert!(VerificationKey::from_secret(Algorithm::HS512, b"0123456789abcdef0123456789abcdef").is_err());
//! ```

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// The shortest HMAC secret accepted for HS256 (RFC 7518 §3.2: at least the hash size; HS384
/// needs 48 bytes and HS512 64).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

fn min_secret_bytes(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => MIN_HMAC_SECRET_BYTES,
    }
}

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HMAC secret is shorter than the hash (32 bytes for HS256, 48 for HS384, 64 for HS512).
    #[error("the HMAC secret has {len} bytes; at least {min} are required")]
    WeakSecret {
        /// The length that was given.
        len: usize,
        /// The least accepted.
        min: usize,
    },
    /// The key material does not fit the algorithm.
    #[error("the key does not fit algorithm {algorithm:?}: {reason}")]
    Mismatch {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
        /// What was wrong.
        reason: String,
    },
    /// A JWK without a usable algorithm, or of an unsupported kind.
    #[error("unusable JWK: {0}")]
    UnusableJwk(String),
}

/// A public key or secret that verifies tokens of exactly one algorithm.
#[derive(Clone)]
pub struct VerificationKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl VerificationKey {
    /// An HMAC key (HS256/384/512) from raw secret bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::WeakSecret`] under 32 bytes, [`KeyError::Mismatch`] for a non-HMAC algorithm.
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(mismatch(algorithm, "a secret only fits HS256, HS384 or HS512"));
        }
        let min = min_secret_bytes(algorithm);
        if secret.len() < min {
            return Err(KeyError::WeakSecret { len: secret.len(), min });
        }
        let key = DecodingKey::from_secret(secret).map_err(|e| mismatch(algorithm, e))?;
        Ok(Self { kid: None, algorithm, key })
    }

    /// A public key from PEM (RSA for RS*/PS*, EC for ES*, Ed25519 for EdDSA).
    ///
    /// # Errors
    ///
    /// [`KeyError::Mismatch`] when the PEM cannot be read as a key of the algorithm's family.
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let key = match algorithm.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => return Err(mismatch(algorithm, "HMAC keys are secrets, not PEM")),
        }
        .map_err(|e| mismatch(algorithm, e))?;
        Ok(Self { kid: None, algorithm, key })
    }

    /// A key from a JWK. The algorithm comes from the JWK's `alg`, or else from its type and
    /// curve (RSA: RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA). Encryption keys are refused.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnusableJwk`] for symmetric, encryption-only or unsupported keys.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            return Err(KeyError::UnusableJwk("the key is not for signatures".into()));
        }
        let algorithm = match jwk.common.key_algorithm {
            Some(alg) => format!("{alg:?}")
                .parse::<Algorithm>()
                .map_err(|_| KeyError::UnusableJwk(format!("`{alg:?}` is not a signature algorithm")))?,
            None => match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                    EllipticCurve::P256 => Algorithm::ES256,
                    EllipticCurve::P384 => Algorithm::ES384,
                    _ => return Err(KeyError::UnusableJwk("unsupported curve".into())),
                },
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                _ => return Err(KeyError::UnusableJwk("unsupported key type".into())),
            },
        };
        if algorithm.family() == AlgorithmFamily::Hmac {
            return Err(KeyError::UnusableJwk("symmetric keys are never taken from a JWKS".into()));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::UnusableJwk(e.to_string()))?;
        if key.family() != algorithm.family() {
            return Err(KeyError::UnusableJwk("`alg` does not match the key type".into()));
        }
        Ok(Self { kid: jwk.common.key_id.clone(), algorithm, key })
    }

    /// Sets the key id matched against the token header's `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

fn mismatch(algorithm: Algorithm, reason: impl fmt::Display) -> KeyError {
    KeyError::Mismatch { algorithm, reason: reason.to_string() }
}
