//! Why a request is not authenticated ([`AuthError`]) and why a JWT was refused ([`TokenError`]):
//! what authentication reports, the 401 renders and the audit records.

use super::contract::Accepts;

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed compact JWS.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is `none`, or differs from the algorithm of the selected key.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// A header member that is never honoured (`crit`, `jku`, `x5u`, `x5c`, `jwk`).
    #[error("forbidden header member `{0}`")]
    ForbiddenHeader(&'static str),
    /// The header's `typ` says the token is not an access token (RFC 8725 §3.11).
    #[error("not an access token type")]
    WrongType,
    /// A header or claims member appears twice (RFC 7515 §5.2).
    #[error("duplicate member in header or claims")]
    DuplicateMember,
    /// No key with the token's `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// `iss` names no trusted issuer.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the issuer's.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is not ours.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is missing.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim of a verified token has the wrong shape (`scope` not a string, say): the issuer
    /// wrote it, so it is not a guess.
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
    /// The introspection endpoint says the token is not active (RFC 7662 §2.2: unknown,
    /// expired, revoked, or not for this service; it does not say which).
    #[error("token not active")]
    Inactive,
}

/// The algorithms a DPoP proof may be signed with, as the `algs` of the challenge (RFC 9449 §7.1).
pub const DPOP_ALGORITHMS: &str = "ES256 ES384 EdDSA RS256 PS256";

/// Why a proof was refused. The message is safe to send (it never quotes the proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, or its parts do not decode.
    #[error("the DPoP proof is not a compact JWS")]
    Malformed,
    /// Over [`crate::auth::dpop::MAX_PROOF_BYTES`].
    #[error("the DPoP proof is too large")]
    TooLarge,
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ is not dpop+jwt")]
    WrongType,
    /// `alg` is `none`, symmetric, or not one the service accepts.
    #[error("the DPoP proof's alg is not accepted")]
    Algorithm,
    /// No `jwk`, a `jwk` that is not a public key of the algorithm, or one with private members.
    #[error("the DPoP proof's jwk is not a public key")]
    Key,
    /// A header member appears twice, or a member that would choose another key (`jku`, `x5u`,
    /// `x5c`, `kid` alone) or `crit`.
    #[error("the DPoP proof's header is not accepted")]
    Header,
    /// The signature does not verify with the header's `jwk`.
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    /// A claim is missing or of the wrong type.
    #[error("the DPoP proof lacks a claim")]
    Claims,
    /// `htm` is not the request's method.
    #[error("the DPoP proof is for another method")]
    Method,
    /// `htu` is not the request's URI.
    #[error("the DPoP proof is for another URI")]
    Uri,
    /// `iat` is outside the window.
    #[error("the DPoP proof is too old or from the future")]
    IssuedAt,
    /// The `jti` was seen within the window.
    #[error("the DPoP proof was already used")]
    Replayed,
    /// `ath` is missing or is not the hash of the access token.
    #[error("the DPoP proof is for another access token")]
    AccessTokenHash,
    /// The replay cache is full of proofs still inside the window: refused rather than
    /// forgotten (a forgotten `jti` could be replayed).
    #[error("too many DPoP proofs at once; retry")]
    Busy,
    /// No `DPoP` header with a DPoP-scheme token, or more than one.
    #[error("a DPoP request carries exactly one DPoP proof")]
    Missing,
    /// No `nonce`, or one this service did not issue within its lifetime, where nonces are
    /// required: the client is sent one (`DPoP-Nonce`) to use (RFC 9449 §9).
    #[error("the DPoP proof needs the nonce the service provides")]
    UseNonce,
    /// The proof's key is not the one the token is bound to (`cnf.jkt`), or the token is bound
    /// to no key.
    #[error("the DPoP proof's key is not the token's")]
    KeyMismatch,
}

impl DpopError {
    /// A short machine-readable reason for audit events (`dpop_replayed`, ...).
    pub fn audit_reason(self) -> &'static str {
        match self {
            DpopError::Malformed => "dpop_malformed",
            DpopError::TooLarge => "dpop_too_large",
            DpopError::WrongType => "dpop_wrong_type",
            DpopError::Algorithm => "dpop_algorithm",
            DpopError::Key => "dpop_key",
            DpopError::Header => "dpop_header",
            DpopError::Signature => "dpop_bad_signature",
            DpopError::Claims => "dpop_claims",
            DpopError::Method => "dpop_method",
            DpopError::Uri => "dpop_uri",
            DpopError::IssuedAt => "dpop_iat",
            DpopError::Replayed => "dpop_replayed",
            DpopError::AccessTokenHash => "dpop_ath",
            DpopError::Busy => "dpop_busy",
            DpopError::Missing => "dpop_missing",
            DpopError::KeyMismatch => "dpop_key_mismatch",
            DpopError::UseNonce => "dpop_use_nonce",
        }
    }
}

/// [`AuthError::Malformed`]: a bearer token and an API key in one request.
pub(crate) const BOTH_CREDENTIALS: &str = "both a bearer token and an API key";
/// [`AuthError::Malformed`]: more than one `X-API-Key` header.
pub(crate) const SEVERAL_API_KEYS: &str = "more than one X-API-Key header";
/// [`AuthError::Malformed`]: an `X-API-Key` header that is not ASCII.
pub(crate) const NON_ASCII_API_KEY: &str = "non-ASCII X-API-Key header";
/// [`AuthError::Malformed`]: an empty `X-API-Key` header.
pub(crate) const EMPTY_API_KEY: &str = "empty API key";

/// Why a request is not authenticated. Rendered by [`crate::Error::Unauthenticated`] as 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials at all.
    #[error("no credentials")]
    Missing,
    /// An `Authorization` scheme other than Bearer.
    #[error("unsupported authorization scheme")]
    UnsupportedScheme,
    /// Credentials that cannot be read.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// A token or key over the size bound.
    #[error("credentials over {limit} bytes")]
    TooLarge {
        /// The bound.
        limit: usize,
    },
    /// The JWT was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token's `jti` is revoked.
    #[error("token revoked")]
    Revoked,
    /// No API key matches.
    #[error("unknown API key")]
    UnknownApiKey,
    /// The scheme used is not configured on this service.
    #[error("this credential type is not accepted here")]
    SchemeDisabled,
    /// The revocation store did not answer; authentication fails closed.
    #[error("revocation check unavailable")]
    RevocationUnavailable,
    /// The introspection endpoint gave no usable answer; authentication fails closed.
    #[error("token introspection unavailable")]
    IntrospectionUnavailable,
    /// The shared DPoP replay store did not answer; the proof is refused, not let through
    /// unchecked.
    #[error("DPoP replay check unavailable")]
    ReplayCheckUnavailable,
    /// A DPoP request (`Authorization: DPoP`) whose proof was refused.
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// A DPoP request whose token was refused: the same reasons as [`AuthError::Token`],
    /// challenged in the DPoP scheme.
    #[error("DPoP token: {0}")]
    DpopToken(TokenError),
    /// A token bound to a key (`cnf.jkt`) sent as a plain bearer token (RFC 9449 §7.1), or a
    /// bearer token where the service requires DPoP.
    #[error("a DPoP-bound token sent as a bearer token")]
    DpopRequired,
    /// A credential the route does not accept (`auth = [...]`): the challenge names the ones it
    /// does.
    #[error("this credential is not accepted by the route")]
    NotAccepted(Accepts),
}

impl AuthError {
    /// The RFC 6750 `error` code, or `None` when no credentials were presented (§3.1).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            // Like no credentials: the route's own kind of credential is missing (RFC 6750 §3.1).
            AuthError::Missing | AuthError::UnsupportedScheme | AuthError::NotAccepted(_) => None,
            AuthError::Dpop(DpopError::UseNonce) => Some("use_dpop_nonce"),
            AuthError::Dpop(_) => Some("invalid_dpop_proof"),
            _ => Some("invalid_token"),
        }
    }

    /// Whether the failure is challenged in the DPoP scheme (RFC 9449 §7.1): a refused proof, or
    /// a bound token sent without one.
    pub fn concerns_dpop(&self) -> bool {
        matches!(self, AuthError::Dpop(_) | AuthError::DpopRequired | AuthError::DpopToken(_))
    }

    /// What the client is told: nothing that helps tell one failed check from another, except
    /// expiry, which a legitimate client needs to know to refresh.
    pub fn public_description(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::UnsupportedScheme => "authentication is required",
            AuthError::Token(TokenError::Expired) | AuthError::DpopToken(TokenError::Expired) => {
                "the access token expired"
            }
            AuthError::Dpop(DpopError::UseNonce) => "sign the proof again with the nonce in DPoP-Nonce",
            AuthError::Dpop(_) => "the DPoP proof is invalid",
            AuthError::DpopRequired => "send this token with Authorization: DPoP and a DPoP proof",
            AuthError::NotAccepted(accepts) => match (accepts.bearer, accepts.dpop, accepts.api_key) {
                (true, true, false) => "this route accepts access tokens, not API keys",
                (true, false, false) => "this route accepts bearer tokens only",
                (false, true, false) => "this route accepts DPoP-bound tokens only",
                (false, false, true) => "this route accepts API keys only",
                (true, false, true) => "this route accepts bearer tokens and API keys, not DPoP",
                (false, true, true) => "this route accepts DPoP-bound tokens and API keys",
                _ => "this route does not accept this credential",
            },
            AuthError::Malformed(BOTH_CREDENTIALS) => "send one credential: a bearer token or an API key, not both",
            _ if self.concerns_api_key() => "the API key is invalid",
            _ => "the access token is invalid",
        }
    }

    /// Whether the failure is the API key's (`X-API-Key`): it is then challenged in the API-key
    /// scheme's terms, not the bearer token's.
    ///
    /// ```
    /// use rampart::auth::{AuthError, TokenError};
    ///
    /// assert!(AuthError::UnknownApiKey.concerns_api_key());
    /// assert!(!AuthError::Token(TokenError::Expired).concerns_api_key());
    /// ```
    pub fn concerns_api_key(&self) -> bool {
        matches!(
            self,
            AuthError::UnknownApiKey | AuthError::Malformed(SEVERAL_API_KEYS | NON_ASCII_API_KEY | EMPTY_API_KEY)
        )
    }

    /// Whether this failure is a guess, which the lockout counts: a credential nobody holding
    /// the key could have produced (a bad signature, an unknown key id, a malformed or unsigned
    /// token, an unknown API key). A validly signed token refused for its claims (expired, not
    /// yet valid, another audience or issuer, revoked) is not a guess: its holder is told to
    /// refresh, never locked out. Requests without credentials are not guesses either.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::auth::{AuthError, TokenError};
    ///
    /// assert!(AuthError::Token(TokenError::BadSignature).is_guess());
    /// assert!(AuthError::UnknownApiKey.is_guess());
    /// assert!(!AuthError::Token(TokenError::Expired).is_guess());
    /// assert!(!AuthError::Missing.is_guess());
    /// ```
    pub fn is_guess(&self) -> bool {
        match self {
            AuthError::Malformed(_) | AuthError::TooLarge { .. } | AuthError::UnknownApiKey => true,
            // A proof that does not verify is what a thief of the token without its key sends.
            // A client's first proof lacks the nonce it has not been given yet: not a guess.
            AuthError::Dpop(error) => !matches!(error, DpopError::Busy | DpopError::UseNonce),
            AuthError::DpopRequired | AuthError::NotAccepted(_) => false,
            AuthError::DpopToken(token) => AuthError::Token(token.clone()).is_guess(),
            AuthError::Token(token) => matches!(
                token,
                TokenError::Malformed(_)
                    | TokenError::AlgorithmNotAllowed
                    | TokenError::ForbiddenHeader(_)
                    | TokenError::WrongType
                    | TokenError::DuplicateMember
                    | TokenError::UnknownKey
                    | TokenError::UnknownIssuer
                    | TokenError::BadSignature
                    // Unknown to the authorization server: what an invented opaque token gets.
                    | TokenError::Inactive
            ),
            AuthError::Missing
            | AuthError::UnsupportedScheme
            | AuthError::Revoked
            | AuthError::SchemeDisabled
            | AuthError::RevocationUnavailable
            | AuthError::IntrospectionUnavailable
            | AuthError::ReplayCheckUnavailable => false,
        }
    }

    /// A precise reason for audit events (never sent to the client).
    pub fn audit_reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::UnsupportedScheme => "unsupported_scheme",
            AuthError::Malformed(_) => "malformed_credentials",
            AuthError::TooLarge { .. } => "token_too_large",
            AuthError::Revoked => "revoked",
            AuthError::UnknownApiKey => "unknown_api_key",
            AuthError::SchemeDisabled => "scheme_disabled",
            AuthError::RevocationUnavailable => "revocation_unavailable",
            AuthError::IntrospectionUnavailable => "introspection_unavailable",
            AuthError::ReplayCheckUnavailable => "dpop_replay_check_unavailable",
            AuthError::Dpop(error) => error.audit_reason(),
            AuthError::DpopRequired => "dpop_required",
            AuthError::NotAccepted(_) => "credential_not_accepted",
            AuthError::DpopToken(token) => AuthError::Token(token.clone()).audit_reason(),
            AuthError::Token(token) => match token {
                TokenError::Malformed(_) => "malformed_token",
                TokenError::AlgorithmNotAllowed => "algorithm_not_allowed",
                TokenError::ForbiddenHeader(_) => "forbidden_header",
                TokenError::DuplicateMember => "duplicate_member",
                TokenError::WrongType => "wrong_token_type",
                TokenError::UnknownKey => "unknown_kid",
                TokenError::UnknownIssuer => "unknown_issuer",
                TokenError::BadSignature => "bad_signature",
                TokenError::Expired => "expired",
                TokenError::NotYetValid => "not_yet_valid",
                TokenError::WrongIssuer => "wrong_issuer",
                TokenError::WrongAudience => "wrong_audience",
                TokenError::MissingClaim(_) => "missing_claim",
                TokenError::InvalidClaim(_) => "invalid_claim",
                TokenError::Inactive => "token_inactive",
            },
        }
    }
}
