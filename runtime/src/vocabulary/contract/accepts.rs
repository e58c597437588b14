//! The credentials a route accepts (`auth = ["bearer", "dpop", "api_key"]` in its attribute).

/// Which credentials a route accepts: plain bearer tokens (JWTs or introspected tokens),
/// DPoP-bound tokens with their proofs (RFC 9449), API keys (`X-API-Key`). Of these, a request
/// is served only with one the service also accepts: [`Accepts::ANY`], the default, means
/// "whatever the service is configured to accept".
///
/// # Examples
///
/// ```
/// use rampart::Accepts;
/// use rampart::auth::{ClaimMapping, Principal};
///
/// let user = Principal::from_claims(serde_json::json!({"sub": "alice"}), &ClaimMapping::default()).unwrap();
/// let key = Principal::for_api_key("ops-bot", &[], &[]);
/// let keys_only = Accepts { bearer: false, dpop: false, api_key: true };
/// assert!(keys_only.admits(key.credential()) && !keys_only.admits(user.credential()));
/// assert!(Accepts::ANY.admits(user.credential()) && Accepts::ANY.admits(key.credential()));
/// assert_eq!(keys_only.names(), ["api_key"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accepts {
    /// A token in `Authorization: Bearer` (not bound to a key).
    pub bearer: bool,
    /// A DPoP-bound token in `Authorization: DPoP` with its proof.
    pub dpop: bool,
    /// An API key in `X-API-Key`.
    pub api_key: bool,
}

impl Accepts {
    /// Every credential the service accepts (no `auth = [...]` in the attribute).
    pub const ANY: Accepts = Accepts { bearer: true, dpop: true, api_key: true };
    /// Only DPoP-bound tokens with their proofs (`dpop = "required"`, or `auth = ["dpop"]`).
    pub const DPOP: Accepts = Accepts { bearer: false, dpop: true, api_key: false };

    /// Whether a request that came with `credential` is accepted here.
    #[inline]
    pub fn admits(self, credential: Credential) -> bool {
        match credential {
            Credential::Bearer => self.bearer,
            Credential::Dpop => self.dpop,
            Credential::ApiKey => self.api_key,
        }
    }

    /// Whether only DPoP-bound tokens are accepted.
    pub fn dpop_only(self) -> bool {
        self == Self::DPOP
    }

    /// The attribute's names of the accepted credentials (`bearer`, `dpop`, `api_key`).
    pub fn names(self) -> Vec<&'static str> {
        [(self.bearer, "bearer"), (self.dpop, "dpop"), (self.api_key, "api_key")]
            .into_iter()
            .filter_map(|(accepted, name)| accepted.then_some(name))
            .collect()
    }
}

impl Default for Accepts {
    fn default() -> Self {
        Self::ANY
    }
}

/// The kind of credential a request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A token in `Authorization: Bearer` (not bound to a key).
    Bearer,
    /// A DPoP-bound token with its proof.
    Dpop,
    /// An API key.
    ApiKey,
}
