//! `Sealed<T>`: a value encrypted at rest with AES-256-GCM, tagged with its key id.
//!
//! A [`Keyring`] encrypts with its current (first) key and decrypts with any key it holds, so keys
//! rotate by putting a new key first and keeping the old ones until every value was resealed
//! ([`Sealed::reseal`]). The text form is `v2.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`; the
//! version, the key id and the value's [`SealContext`] are authenticated as associated data, and
//! a fresh random 96-bit nonce is used for every seal. Tampering with any part is an error, never
//! garbage.
//!
//! # Bound to their record
//!
//! A value sealed with [`Sealed::seal_bound`] opens only with the same [`SealContext`] (table,
//! column, record: the row's owner or id): a ciphertext copied into another record, by anyone
//! who can write the database (an injection elsewhere, a restored backup), fails with
//! [`SealError::Tampered`] instead of being decrypted for the new record's owner.
//! [`Sealed::open_bound`] refuses values sealed without a context (`v1.`) as
//! [`SealError::Unbound`]; [`Sealed::bind`] re-seals one of those under a context, once, for a
//! migration pass over old rows. [`Sealed::seal`] and [`Sealed::open`] remain for values that
//! belong to no record.
//!
//! # Examples
//!
//! ```
//! use rampart::crypto::{Keyring, Sealed};
//!
//! let keyring = Keyring::generate("k1");
//! let sealed = Sealed::seal(&keyring, &"meet at noon".to_string()).unwrap();
//! assert!(!sealed.to_string().contains("noon"));
//! assert_eq!(sealed.open(&keyring).unwrap(), "meet at noon");
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Values sealed without a context.
const UNBOUND: &str = "v1";
/// Values sealed with a [`SealContext`].
const BOUND: &str = "v2";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The text is not `v1.<kid>.<base64url>`.
    #[error("not a sealed value")]
    Format,
    /// No key with this id in the keyring.
    #[error("no key `{0}` in the keyring")]
    UnknownKey(String),
    /// Authentication failed: wrong key, the value was tampered with, or it was moved from
    /// another record (another [`SealContext`]).
    #[error("the sealed value failed authentication (tampered with, or moved from another record)")]
    Tampered,
    /// A bound value given to an operation that needs its context ([`Sealed::reseal`]: use
    /// [`Sealed::bind`]).
    #[error("the sealed value is bound to a record: re-seal it with Sealed::bind and its context")]
    NeedsContext,
    /// A value sealed without a context, where a bound one is required.
    #[error("the sealed value is not bound to a record; re-seal it with Sealed::bind")]
    Unbound,
    /// The plaintext could not be (de)serialized.
    #[error("the sealed value could not be (de)serialized: {0}")]
    Serde(String),
    /// A key specification is wrong.
    #[error("{0}")]
    BadKey(String),
}

/// One AES-256 key with its id.
#[derive(Clone)]
pub struct SealKey {
    kid: String,
    key: Key<Aes256Gcm>,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey").field("kid", &self.kid).field("key", &"[redacted]").finish()
    }
}

fn check_kid(kid: &str) -> Result<(), SealError> {
    let ok = (1..=32).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(SealError::BadKey(format!("key id `{kid}` must be 1-32 of [A-Za-z0-9_-]"))) }
}

impl SealKey {
    /// A key from 32 bytes, standard or URL-safe base64.
    ///
    /// # Errors
    ///
    /// [`SealError::BadKey`] for a bad id, bad base64 or a length other than 32 bytes.
    pub fn from_base64(kid: &str, encoded: &str) -> Result<Self, SealError> {
        check_kid(kid)?;
        let encoded = encoded.trim();
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
            .map_err(|_| SealError::BadKey(format!("key `{kid}` is not base64")))?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice())
            .map_err(|_| SealError::BadKey(format!("key `{kid}` has {} bytes; AES-256 needs 32", bytes.len())))?;
        Ok(Self { kid: kid.to_owned(), key })
    }

    /// A fresh random key.
    ///
    /// # Panics
    ///
    /// Never for ids made of `[A-Za-z0-9_-]`; other ids are replaced by `dev`.
    pub fn generate(kid: &str) -> Self {
        let kid = if check_kid(kid).is_ok() { kid } else { "dev" };
        Self { kid: kid.to_owned(), key: Key::<Aes256Gcm>::generate() }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as standard base64 (to print a generated dev key's setting once).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key.as_slice())
    }
}

/// The keys that seal and open values: the first encrypts, all decrypt.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SealKey>,
}

impl Keyring {
    /// A keyring whose current key is `current`, with older keys that still decrypt.
    pub fn new(current: SealKey, older: impl IntoIterator<Item = SealKey>) -> Self {
        let mut keys = vec![current];
        keys.extend(older);
        Self { keys }
    }

    /// A keyring with one random key (development only: values are lost with it).
    pub fn generate(kid: &str) -> Self {
        Self::new(SealKey::generate(kid), [])
    }

    /// Parses `kid:base64key[,kid2:base64key...]`, current key first (the `RAMPART_SEAL_KEY` form).
    ///
    /// # Errors
    ///
    /// [`SealError::BadKey`] naming the entry at fault.
    pub fn from_spec(spec: &str) -> Result<Self, SealError> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, key) = entry
                .split_once(':')
                .ok_or_else(|| SealError::BadKey("each key is `kid:base64-of-32-bytes`".into()))?;
            let key = SealKey::from_base64(kid.trim(), key)?;
            if keys.iter().any(|k: &SealKey| k.kid == key.kid) {
                return Err(SealError::BadKey(format!("key id `{}` appears twice", key.kid)));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(SealError::BadKey("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// A 32-byte key for another `purpose`, derived from the current sealing key
    /// (HMAC-SHA256 of `rampart:{purpose}`): the instances sharing `RAMPART_SEAL_KEY` derive the
    /// same one, and it tells nothing of the sealing key.
    ///
    /// ```
    /// use rampart::crypto::Keyring;
    ///
    /// let keyring = Keyring::generate("k1");
    /// assert_eq!(keyring.derive("dpop-nonce"), keyring.derive("dpop-nonce"));
    /// assert_ne!(keyring.derive("dpop-nonce"), keyring.derive("other"));
    /// ```
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.current().key.as_slice());
        let tag = aws_lc_rs::hmac::sign(&key, format!("rampart:{purpose}").as_bytes());
        let mut derived = [0; 32];
        derived.copy_from_slice(tag.as_ref());
        derived
    }

    /// The id of the key new values are sealed with.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].kid
    }

    fn current(&self) -> &SealKey {
        &self.keys[0]
    }

    fn find(&self, kid: &str) -> Option<&SealKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Where a sealed value belongs: its table, its column and its record (the row's id, or its
/// owner). Authenticated with the value, never stored in it.
///
/// # Examples
///
/// ```
/// use rampart::crypto::{Keyring, SealContext, SealError, Sealed};
///
/// let keyring = Keyring::generate("k1");
/// let alice = SealContext::new("notes", "body", "jwt:idp#alice");
/// let sealed = Sealed::seal_bound(&keyring, &"alice's plans".to_string(), &alice).unwrap();
/// assert_eq!(sealed.open_bound(&keyring, &alice).unwrap(), "alice's plans");
/// // Copied into mallory's row, it does not open.
/// let mallory = SealContext::new("notes", "body", "jwt:idp#mallory");
/// assert_eq!(sealed.open_bound(&keyring, &mallory).unwrap_err(), SealError::Tampered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealContext<'a> {
    table: &'a str,
    column: &'a str,
    record: &'a str,
}

impl<'a> SealContext<'a> {
    /// The value of `column` in `table`, for `record`.
    pub fn new(table: &'a str, column: &'a str, record: &'a str) -> Self {
        Self { table, column, record }
    }
}

/// The associated data: the version and key id, then each context part length-prefixed, so
/// that no two contexts share an encoding.
fn aad(version: &str, kid: &str, context: Option<&SealContext<'_>>) -> Vec<u8> {
    let mut aad = format!("rampart.sealed.{version}.{kid}").into_bytes();
    if let Some(context) = context {
        for part in [context.table, context.column, context.record] {
            aad.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
    }
    aad
}

/// A `T` encrypted at rest. Serializes as its sealed text; opening needs the [`Keyring`].
pub struct Sealed<T> {
    /// [`BOUND`] or [`UNBOUND`].
    version: &'static str,
    kid: String,
    blob: Vec<u8>,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Sealed<T> {
    fn clone(&self) -> Self {
        Self { version: self.version, kid: self.kid.clone(), blob: self.blob.clone(), _value: PhantomData }
    }
}

impl<T> fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed").field("kid", &self.kid).field("len", &self.blob.len()).finish()
    }
}

impl<T> PartialEq for Sealed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.kid == other.kid && self.blob == other.blob
    }
}

impl<T: Serialize> Sealed<T> {
    /// Encrypts `value` with the keyring's current key.
    ///
    /// # Errors
    ///
    /// [`SealError::Serde`] when `value` does not serialize.
    pub fn seal(keyring: &Keyring, value: &T) -> Result<Self, SealError> {
        Self::encrypt(keyring, value, None)
    }

    /// Encrypts `value` with the keyring's current key, bound to `context`: it opens only with
    /// [`Sealed::open_bound`] and the same context.
    ///
    /// # Errors
    ///
    /// [`SealError::Serde`] when `value` does not serialize.
    pub fn seal_bound(keyring: &Keyring, value: &T, context: &SealContext<'_>) -> Result<Self, SealError> {
        Self::encrypt(keyring, value, Some(context))
    }

    fn encrypt(keyring: &Keyring, value: &T, context: Option<&SealContext<'_>>) -> Result<Self, SealError> {
        let plaintext = serde_json::to_vec(value).map_err(|e| SealError::Serde(e.to_string()))?;
        let key = keyring.current();
        let version = if context.is_some() { BOUND } else { UNBOUND };
        let nonce = Nonce::generate();
        let ciphertext = Aes256Gcm::new(&key.key)
            .encrypt(&nonce, Payload { msg: &plaintext, aad: &aad(version, &key.kid, context) })
            .map_err(|_| SealError::Tampered)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(nonce.as_slice());
        blob.extend_from_slice(&ciphertext);
        Ok(Self { version, kid: key.kid.clone(), blob, _value: PhantomData })
    }
}

impl<T: DeserializeOwned> Sealed<T> {
    /// Decrypts a value sealed without a context ([`Sealed::seal`]), with the key named in it.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`], [`SealError::Tampered`] (a bound value fails here too) or
    /// [`SealError::Serde`].
    pub fn open(&self, keyring: &Keyring) -> Result<T, SealError> {
        self.decrypt(keyring, None)
    }

    /// Decrypts a value sealed with [`Sealed::seal_bound`] under the same `context`.
    ///
    /// # Errors
    ///
    /// [`SealError::Tampered`] when the value was moved from another context (or altered),
    /// [`SealError::Unbound`] for a value sealed without a context, [`SealError::UnknownKey`],
    /// [`SealError::Serde`].
    pub fn open_bound(&self, keyring: &Keyring, context: &SealContext<'_>) -> Result<T, SealError> {
        if self.version == UNBOUND {
            return Err(SealError::Unbound);
        }
        self.decrypt(keyring, Some(context))
    }

    /// Whether the value is bound to a record (sealed with [`Sealed::seal_bound`]).
    pub fn is_bound(&self) -> bool {
        self.version == BOUND
    }

    fn decrypt(&self, keyring: &Keyring, context: Option<&SealContext<'_>>) -> Result<T, SealError> {
        let key = keyring.find(&self.kid).ok_or_else(|| SealError::UnknownKey(self.kid.clone()))?;
        let (nonce, ciphertext) = self.blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Format)?;
        let context = if self.version == BOUND { context } else { None };
        let plaintext = Aes256Gcm::new(&key.key)
            .decrypt(&nonce, Payload { msg: ciphertext, aad: &aad(self.version, &self.kid, context) })
            .map_err(|_| SealError::Tampered)?;
        serde_json::from_slice(&plaintext).map_err(|e| SealError::Serde(e.to_string()))
    }
}

impl<T: Serialize + DeserializeOwned> Sealed<T> {
    /// Re-encrypts an unbound value with the current key (key rotation); a no-op copy if
    /// already current. A bound value is re-sealed by [`Sealed::bind`] with its context.
    ///
    /// # Errors
    ///
    /// As [`Self::open`]; [`SealError::NeedsContext`] for a bound value.
    pub fn reseal(&self, keyring: &Keyring) -> Result<Self, SealError> {
        if self.is_bound() {
            return Err(SealError::NeedsContext);
        }
        if self.kid == keyring.current_kid() {
            return Ok(self.clone());
        }
        Self::seal(keyring, &self.open(keyring)?)
    }

    /// Re-seals a value sealed without a context (`v1.`, before values were bound) under
    /// `context`, with the current key: the migration of an old row, done once by whoever can
    /// tell which record the value belongs to (the row it was read from), and never again
    /// (afterwards a `v1.` value in a row is an injection). A value bound already is re-sealed
    /// under the current key (rotation) if it opens under `context`.
    ///
    /// # Errors
    ///
    /// As [`Self::open`] / [`Self::open_bound`].
    pub fn bind(&self, keyring: &Keyring, context: &SealContext<'_>) -> Result<Self, SealError> {
        let value = if self.is_bound() { self.open_bound(keyring, context)? } else { self.open(keyring)? };
        Self::seal_bound(keyring, &value, context)
    }
}

impl<T> Sealed<T> {
    /// The id of the key this value was sealed with.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl<T> fmt::Display for Sealed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.version, self.kid, URL_SAFE_NO_PAD.encode(&self.blob))
    }
}

impl<T> FromStr for Sealed<T> {
    type Err = SealError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.splitn(3, '.');
        let (Some(version), Some(kid), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Format);
        };
        let version = match version {
            UNBOUND => UNBOUND,
            BOUND => BOUND,
            _ => return Err(SealError::Format),
        };
        check_kid(kid).map_err(|_| SealError::Format)?;
        let blob = URL_SAFE_NO_PAD.decode(blob).map_err(|_| SealError::Format)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Format);
        }
        Ok(Self { version, kid: kid.to_owned(), blob, _value: PhantomData })
    }
}

impl<T> Serialize for Sealed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, T> Deserialize<'de> for Sealed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_text_and_serde() {
        let ring = Keyring::generate("k1");
        let sealed = Sealed::seal(&ring, &vec![1, 2, 3]).unwrap();
        let json = serde_json::to_string(&sealed).unwrap();
        let back: Sealed<Vec<i32>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.open(&ring).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn nonces_differ() {
        let ring = Keyring::generate("k1");
        let a = Sealed::seal(&ring, &"x").unwrap();
        let b = Sealed::seal(&ring, &"x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rotation_old_values_open_and_reseal_to_new_key() {
        let old = SealKey::generate("old");
        let old_ring = Keyring::new(old.clone(), []);
        let value = Sealed::seal(&old_ring, &"secret".to_string()).unwrap();
        let new_ring = Keyring::new(SealKey::generate("new"), [old]);
        assert_eq!(value.open(&new_ring).unwrap(), "secret");
        let resealed = value.reseal(&new_ring).unwrap();
        assert_eq!(resealed.kid(), "new");
        assert_eq!(resealed.open(&new_ring).unwrap(), "secret");
        assert_eq!(resealed.open(&old_ring).unwrap_err(), SealError::UnknownKey("new".into()));
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::generate("k1");
        let text = Sealed::seal(&ring, &"hello".to_string()).unwrap().to_string();
        // Flip one bit in every byte position of the blob in turn.
        let (prefix, blob) = text.rsplit_once('.').unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(blob).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let forged: Sealed<String> = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(&bad)).parse().unwrap();
            assert_eq!(forged.open(&ring).unwrap_err(), SealError::Tampered, "byte {i}");
        }
        // Relabelling with another key id of the same keyring fails authentication too.
        let two = Keyring::new(SealKey::generate("a"), [SealKey::generate("b")]);
        let v = Sealed::seal(&two, &"x".to_string()).unwrap().to_string();
        let relabelled: Sealed<String> = v.replacen(".a.", ".b.", 1).parse().unwrap();
        assert_eq!(relabelled.open(&two).unwrap_err(), SealError::Tampered);
    }

    #[test]
    fn spec_parsing_names_problems() {
        let key = STANDARD.encode([7u8; 32]);
        assert_eq!(Keyring::from_spec(&format!("k2:{key}, k1:{key}")).unwrap().current_kid(), "k2");
        assert!(Keyring::from_spec("k1:c2hvcnQ=").unwrap_err().to_string().contains("needs 32"));
        assert!(Keyring::from_spec(&format!("k1:{key},k1:{key}")).unwrap_err().to_string().contains("twice"));
        assert!("v3.k.AAAA".parse::<Sealed<String>>().is_err());
    }

    #[test]
    fn a_bound_value_opens_only_in_its_own_record_and_old_values_migrate_once() {
        let ring = Keyring::generate("k1");
        let alice = SealContext::new("notes", "body", "jwt:i#alice");
        let sealed = Sealed::seal_bound(&ring, &"plans".to_string(), &alice).unwrap();
        assert!(sealed.to_string().starts_with("v2.k1."));
        assert_eq!(sealed.open_bound(&ring, &alice).unwrap(), "plans");
        for other in [
            SealContext::new("notes", "body", "jwt:i#mallory"),
            SealContext::new("notes", "title", "jwt:i#alice"),
            SealContext::new("drafts", "body", "jwt:i#alice"),
            // Shifting bytes between parts changes the encoding too.
            SealContext::new("notes", "bodyjwt:i#", "alice"),
        ] {
            assert_eq!(sealed.open_bound(&ring, &other).unwrap_err(), SealError::Tampered, "{other:?}");
        }
        assert_eq!(sealed.open(&ring).unwrap_err(), SealError::Tampered, "a bound value needs its context");
        // Relabelled as unbound, it fails authentication.
        let relabelled: Sealed<String> = sealed.to_string().replacen("v2.", "v1.", 1).parse().unwrap();
        assert_eq!(relabelled.open(&ring).unwrap_err(), SealError::Tampered);

        // An old, unbound value: refused where a bound one is required, bound once by migration.
        let old = Sealed::seal(&ring, &"old plans".to_string()).unwrap();
        assert_eq!(old.open_bound(&ring, &alice).unwrap_err(), SealError::Unbound);
        let migrated = old.bind(&ring, &alice).unwrap();
        assert!(migrated.is_bound());
        assert_eq!(migrated.open_bound(&ring, &alice).unwrap(), "old plans");
    }
}
