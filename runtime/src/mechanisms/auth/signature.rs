//! Signature checks with the key material prepared once per key, not once per token.
//!
//! jsonwebtoken's `decode` (and its `crypto::verify`) builds a verifier for every token: for HMAC
//! that is the key schedule (two SHA-256 blocks, about 5,000 instructions, a quarter of an HS256
//! verification), for ECDSA and EdDSA a copy of the key and a parse of the public point. A
//! [`SignatureCheck`] does that work when the key is loaded: an HMAC key as aws-lc-rs's
//! precomputed [`hmac::Key`], an EC or Ed25519 public key as a [`ParsedPublicKey`]. RSA keys
//! (and any key aws-lc-rs would not parse up front) go through jsonwebtoken's own
//! `crypto::verify`, which is what `decode` runs. The primitives are aws-lc-rs's, the backend
//! jsonwebtoken is built with here: nothing cryptographic is written by hand.
//!
//! # Security
//!
//! The algorithm is the key's, fixed when the key was loaded; the HMAC comparison is aws-lc-rs's
//! constant-time `hmac::verify`.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;

use super::TokenError;
use super::jose::Compact;
use super::keys::VerificationKey;

/// The longest signature accepted, decoded (RSA 4096 is 512 bytes).
const MAX_SIGNATURE_BYTES: usize = 512;

/// How one key checks a signature: see the [module docs](self).
#[allow(clippy::large_enum_variant, reason = "one per key, inside the key's Arc: inline saves a pointer chase")]
pub(crate) enum SignatureCheck {
    /// An HMAC key with its inner and outer states computed.
    Hmac(hmac::Key),
    /// An EC or Ed25519 public key, parsed.
    Parsed(ParsedPublicKey),
    /// Through `jsonwebtoken::crypto::verify` (RSA, PSS).
    Generic,
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureCheck::Hmac(_) => "Hmac",
            SignatureCheck::Parsed(_) => "Parsed",
            SignatureCheck::Generic => "Generic",
        })
    }
}

impl SignatureCheck {
    /// Prepares `key` for its algorithm.
    pub(crate) fn prepare(key: &VerificationKey) -> Self {
        let bytes = key.key.try_get_as_bytes().ok();
        let parsed = |algorithm: &'static dyn signature::VerificationAlgorithm| {
            bytes.and_then(|bytes| ParsedPublicKey::new(algorithm, bytes).ok()).map_or(Self::Generic, Self::Parsed)
        };
        let hmac = |algorithm| bytes.map_or(Self::Generic, |secret| Self::Hmac(hmac::Key::new(algorithm, secret)));
        match key.algorithm {
            Algorithm::HS256 => hmac(hmac::HMAC_SHA256),
            Algorithm::HS384 => hmac(hmac::HMAC_SHA384),
            Algorithm::HS512 => hmac(hmac::HMAC_SHA512),
            Algorithm::ES256 => parsed(&signature::ECDSA_P256_SHA256_FIXED),
            Algorithm::ES384 => parsed(&signature::ECDSA_P384_SHA384_FIXED),
            Algorithm::EdDSA => parsed(&signature::ED25519),
            _ => Self::Generic,
        }
    }

    /// Checks the base64url `signature` of `signing_input` (the header and payload segments with
    /// the dot between them).
    ///
    /// # Errors
    ///
    /// [`TokenError::BadSignature`], also for a signature that is not base64url or too long.
    pub(crate) fn verify(&self, key: &VerificationKey, signing_input: &str, signature: &str) -> Result<(), TokenError> {
        let verified = match self {
            SignatureCheck::Generic => {
                jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.key, key.algorithm)
                    .unwrap_or(false)
            }
            SignatureCheck::Hmac(hmac_key) => {
                decoded(signature, |sig| hmac::verify(hmac_key, signing_input.as_bytes(), sig).is_ok())
            }
            SignatureCheck::Parsed(public) => {
                decoded(signature, |sig| public.verify_sig(signing_input.as_bytes(), sig).is_ok())
            }
        };
        if verified { Ok(()) } else { Err(TokenError::BadSignature) }
    }
}

/// Runs `check` on the decoded signature, kept on the stack; `false` when it does not decode.
fn decoded(signature: &str, check: impl FnOnce(&[u8]) -> bool) -> bool {
    let mut buffer = [0_u8; MAX_SIGNATURE_BYTES];
    if signature.len() > MAX_SIGNATURE_BYTES * 4 / 3 + 1 {
        return false;
    }
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut buffer) {
        Ok(len) => check(&buffer[..len]),
        Err(_) => false,
    }
}

/// A key ready to verify: the key, and its signature check prepared.
#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub(crate) key: VerificationKey,
    check: SignatureCheck,
}

impl KeyEntry {
    /// `key`, with its signature check prepared.
    pub(crate) fn new(key: VerificationKey) -> Self {
        Self { check: SignatureCheck::prepare(&key), key }
    }

    /// Checks the signature of `jws` with this key.
    pub(crate) fn verify_signature(&self, jws: &Compact<'_>) -> Result<(), TokenError> {
        self.check.verify(&self.key, jws.signing_input, jws.signature)
    }
}

/// Exact, case-sensitive comparison of the header's `alg` with the key's algorithm.
pub(crate) fn algorithm_name_matches(algorithm: Algorithm, name: &str) -> bool {
    name.parse::<Algorithm>().is_ok_and(|parsed| parsed == algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn split(token: &str) -> (&str, &str) {
        token.rsplit_once('.').unwrap()
    }

    #[test]
    fn hmac_keys_are_prepared_and_check_what_jsonwebtoken_signs() {
        let key = VerificationKey::from_secret(Algorithm::HS256, SECRET).unwrap();
        let check = SignatureCheck::prepare(&key);
        assert!(matches!(check, SignatureCheck::Hmac(_)));
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "a"}),
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        let (input, signature) = split(&token);
        assert_eq!(check.verify(&key, input, signature), Ok(()));
        let other = format!("{input}x");
        assert_eq!(check.verify(&key, &other, signature), Err(TokenError::BadSignature));
        assert_eq!(check.verify(&key, input, "!!!"), Err(TokenError::BadSignature));
        assert_eq!(check.verify(&key, input, &"A".repeat(4096)), Err(TokenError::BadSignature));
    }

    #[test]
    fn ec_keys_are_parsed_once_and_check_what_jsonwebtoken_signs() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let key = VerificationKey::from_pem(Algorithm::ES256, pair.public_key_pem().as_bytes()).unwrap();
        let check = SignatureCheck::prepare(&key);
        assert!(matches!(check, SignatureCheck::Parsed(_)));
        let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), &serde_json::json!({"sub": "a"}), &encoding).unwrap();
        let (input, signature) = split(&token);
        assert_eq!(check.verify(&key, input, signature), Ok(()));
        assert_eq!(check.verify(&key, &format!("{input}x"), signature), Err(TokenError::BadSignature));
    }
}
