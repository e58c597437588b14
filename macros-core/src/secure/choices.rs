//! The attribute's closed choices, as enums from the model to the expansion: a new variant is a
//! compile error in every `match` that must handle it, never a string that silently falls through.

use proc_macro2::{Ident, Span};
use quote::format_ident;

/// An HTTP method, as `#[secure(get, ...)]` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl HttpMethod {
    /// Every method with its spelling in the attribute.
    pub(crate) const ALL: [(&'static str, HttpMethod); 7] = [
        ("get", HttpMethod::Get),
        ("post", HttpMethod::Post),
        ("put", HttpMethod::Put),
        ("patch", HttpMethod::Patch),
        ("delete", HttpMethod::Delete),
        ("head", HttpMethod::Head),
        ("options", HttpMethod::Options),
    ];

    /// The method's name, uppercase.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
        }
    }

    /// The method an attribute key names.
    pub(crate) fn from_key(key: &str) -> Option<Self> {
        Self::ALL.iter().find(|(spelling, _)| *spelling == key).map(|(_, method)| *method)
    }

    /// Its `rampart::Method` variant.
    pub(crate) fn variant(self, span: Span) -> Ident {
        format_ident!("{}", self.name(), span = span)
    }
}

/// What a rate limit is counted per (`rate_key = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateKey {
    Subject,
    Ip,
    Client,
    ApiKey,
}

impl RateKey {
    /// Every key with its spelling in the attribute.
    pub(crate) const ALL: [(&'static str, RateKey); 4] =
        [("sub", RateKey::Subject), ("ip", RateKey::Ip), ("client", RateKey::Client), ("api_key", RateKey::ApiKey)];

    /// Its spelling in the attribute (`sub`, `ip`, `client`, `api_key`).
    pub(crate) fn spelling(self) -> &'static str {
        Self::ALL.iter().find(|(_, key)| *key == self).map_or("sub", |(name, _)| *name)
    }

    /// The key `rate_key = "..."` names.
    pub(crate) fn from_attr(spelling: &str) -> Option<Self> {
        Self::ALL.iter().find(|(name, _)| *name == spelling).map(|(_, key)| *key)
    }

    /// Its `rampart::RateKey` variant.
    pub(crate) fn variant(self) -> Ident {
        let name = match self {
            RateKey::Subject => "Subject",
            RateKey::Ip => "Ip",
            RateKey::Client => "Client",
            RateKey::ApiKey => "ApiKey",
        };
        format_ident!("{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_names_its_variant() {
        for (spelling, key) in RateKey::ALL {
            assert_eq!(RateKey::from_attr(spelling), Some(key));
        }
        assert_eq!(RateKey::from_attr("subject"), None);
        assert_eq!(RateKey::ApiKey.variant().to_string(), "ApiKey");
        assert_eq!(HttpMethod::ALL.map(|(spelling, _)| spelling), crate::secure::parse::METHODS);
        for (spelling, method) in HttpMethod::ALL {
            assert_eq!(HttpMethod::from_key(spelling), Some(method));
            assert_eq!(method.variant(Span::call_site()).to_string(), spelling.to_uppercase());
        }
    }
}

/// A credential a route may accept (`auth = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    Bearer,
    Dpop,
    ApiKey,
}

impl Credential {
    /// Every credential with its spelling in the attribute.
    pub(crate) const ALL: [(&'static str, Credential); 3] =
        [("bearer", Credential::Bearer), ("dpop", Credential::Dpop), ("api_key", Credential::ApiKey)];

    /// The credential `auth = [...]` names.
    pub(crate) fn from_attr(spelling: &str) -> Option<Self> {
        Self::ALL.iter().find(|(name, _)| *name == spelling).map(|(_, credential)| *credential)
    }
}

/// The credentials a route accepts: every one the service does unless the attribute says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub(crate) bearer: bool,
    pub(crate) dpop: bool,
    pub(crate) api_key: bool,
}

impl Accepted {
    /// No `auth` and no `dpop`: whatever the service accepts.
    pub(crate) const ANY: Accepted = Accepted { bearer: true, dpop: true, api_key: true };
    /// `dpop = "required"`.
    pub(crate) const DPOP: Accepted = Accepted { bearer: false, dpop: true, api_key: false };
    /// None yet (filled from `auth = [...]`).
    pub(crate) const NONE: Accepted = Accepted { bearer: false, dpop: false, api_key: false };

    /// Also accepts `credential`; whether it was already accepted.
    pub(crate) fn add(&mut self, credential: Credential) -> bool {
        let slot = match credential {
            Credential::Bearer => &mut self.bearer,
            Credential::Dpop => &mut self.dpop,
            Credential::ApiKey => &mut self.api_key,
        };
        std::mem::replace(slot, true)
    }
}
