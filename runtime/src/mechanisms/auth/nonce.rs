//! Server-provided DPoP nonces (RFC 9449 §8, §9): with them required, a proof is accepted only
//! with a `nonce` claim the service issued recently, so proofs cannot be made ahead of time
//! (a stolen key's holder, or a client whose clock is off, cannot stockpile them).
//!
//! Nonces are stateless: `base64url(issued_at as 8 bytes ‖ first 16 bytes of HMAC-SHA256(key,
//! issued_at))`. Any instance holding the same key accepts any other's, and nothing is stored.
//! A nonce is good for [`NONCE_LIFETIME`]; a proof without a good one is refused with
//! `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a fresh nonce in `DPoP-Nonce`, which the
//! client puts in its next proof.
//!
//! # Examples
//!
//! ```
//! use rampart::auth::NonceIssuer;
//!
//! let nonces = NonceIssuer::new(&[7; 32]);
//! let nonce = nonces.issue();
//! assert!(nonces.accepts(&nonce));
//! assert!(!NonceIssuer::new(&[8; 32]).accepts(&nonce), "another key's nonce");
//! assert!(!nonces.accepts("made-up"));
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// How long an issued nonce is accepted.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Clock skew allowed between instances for a nonce's issue time.
const ISSUED_LEEWAY_SECS: u64 = 5;
/// Bytes of the MAC kept in a nonce.
const MAC_BYTES: usize = 16;

/// Issues and checks DPoP nonces.
#[derive(Clone)]
pub struct NonceIssuer {
    key: hmac::Key,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceIssuer")
    }
}

impl NonceIssuer {
    /// Nonces keyed by `key` (the instances of one service share it).
    pub fn new(key: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, key) }
    }

    /// A nonce issued now.
    pub fn issue(&self) -> String {
        self.issue_at(unix_now())
    }

    fn issue_at(&self, issued_at: u64) -> String {
        let stamp = issued_at.to_be_bytes();
        let tag = hmac::sign(&self.key, &stamp);
        let mut bytes = Vec::with_capacity(8 + MAC_BYTES);
        bytes.extend_from_slice(&stamp);
        bytes.extend_from_slice(&tag.as_ref()[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether `nonce` was issued by this key within [`NONCE_LIFETIME`].
    pub fn accepts(&self, nonce: &str) -> bool {
        self.accepts_at(nonce, unix_now())
    }

    fn accepts_at(&self, nonce: &str, now: u64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let Some((stamp, mac)) = bytes.split_first_chunk::<8>() else { return false };
        if mac.len() != MAC_BYTES {
            return false;
        }
        let issued_at = u64::from_be_bytes(*stamp);
        let fresh = issued_at <= now.saturating_add(ISSUED_LEEWAY_SECS)
            && now.saturating_sub(issued_at) <= NONCE_LIFETIME.as_secs();
        let expected = hmac::sign(&self.key, stamp);
        // Constant time: a forger learns nothing from how long the comparison took.
        fresh && bool::from(expected.as_ref()[..MAC_BYTES].ct_eq(mac))
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_for_its_lifetime_and_only_whole() {
        let nonces = NonceIssuer::new(b"a-nonce-key-of-32-bytes-at-least");
        let nonce = nonces.issue_at(1_000);
        assert!(nonces.accepts_at(&nonce, 1_000));
        assert!(nonces.accepts_at(&nonce, 1_300));
        assert!(!nonces.accepts_at(&nonce, 1_301), "expired");
        assert!(nonces.accepts_at(&nonce, 995), "another instance's clock a little behind");
        assert!(!nonces.accepts_at(&nonce, 900), "from the future");
        let mut tampered = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        tampered[7] ^= 1;
        assert!(!nonces.accepts_at(&URL_SAFE_NO_PAD.encode(&tampered), 1_000), "issue time changed");
        assert!(!nonces.accepts_at(&nonce[..nonce.len() - 2], 1_000), "cut short");
    }
}
