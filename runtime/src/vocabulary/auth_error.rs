//! Why a request is not authenticated ([`AuthError`]) and why a JWT was refused ([`TokenError`]):
//! what authentication reports, the 401 renders and the audit records.

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
}

impl AuthError {
    /// The RFC 6750 `error` code, or `None` when no credentials were presented (§3.1).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing | AuthError::UnsupportedScheme => None,
            _ => Some("invalid_token"),
        }
    }

    /// What the client is told: nothing that helps tell one failed check from another, except
    /// expiry, which a legitimate client needs to know to refresh.
    pub fn public_description(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::UnsupportedScheme => "authentication is required",
            AuthError::Token(TokenError::Expired) => "the access token expired",
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
            ),
            AuthError::Missing
            | AuthError::UnsupportedScheme
            | AuthError::Revoked
            | AuthError::SchemeDisabled
            | AuthError::RevocationUnavailable => false,
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
            },
        }
    }
}
