//! What a quota store is asked ([`QuotaKey`]) and answers ([`Checked`], [`RateDecision`]), and
//! the `RateLimit` headers a decision is announced with.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::vocabulary::contract::RateSpec;

/// The state of a key's quota after a check, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Requests allowed per window.
    pub quota: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset_secs: u64,
}

impl RateDecision {
    /// The decision for `remaining` requests left under `spec`.
    pub fn new(spec: &RateSpec, remaining: u32) -> Self {
        let per_request = Duration::from_secs(spec.period_secs) / spec.count.max(1);
        let used = spec.burst.saturating_sub(remaining);
        Self {
            quota: spec.count,
            window_secs: spec.period_secs,
            remaining,
            reset_secs: (per_request * used).as_secs() + u64::from((per_request * used).subsec_nanos() > 0),
        }
    }

    /// Adds `RateLimit-Policy` and `RateLimit`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        if let (Some(policy), Some(state)) = (self.policy_value(), self.state_value()) {
            insert_headers(headers, policy, state);
        }
    }

    /// `RateLimit-Policy: "default";q=10;w=60`: the same for every request of a route, so the
    /// guard computes it once.
    pub fn policy_value(&self) -> Option<HeaderValue> {
        header_field(b'q', u64::from(self.quota), b'w', self.window_secs)
    }

    /// `RateLimit: "default";r=9;t=6`.
    pub fn state_value(&self) -> Option<HeaderValue> {
        header_field(b'r', u64::from(self.remaining), b't', self.reset_secs)
    }
}

/// Sets `RateLimit-Policy: policy` and `RateLimit: state`, replacing any the handler set.
pub(crate) fn insert_headers(headers: &mut HeaderMap, policy: HeaderValue, state: HeaderValue) {
    headers.insert(POLICY_HEADER.clone(), policy);
    headers.insert(STATE_HEADER.clone(), state);
}

/// The `RateLimit-Policy` header.
pub static POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The `RateLimit` header.
pub static STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

/// `"default";A=x;B=y`, written into a stack buffer: this runs on every rate-limited response.
fn header_field(a: u8, x: u64, b: u8, y: u64) -> Option<HeaderValue> {
    let mut text = [0u8; 64];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        text[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let mut digits = itoa::Buffer::new();
    push(b"\"default\";");
    push(&[a, b'=']);
    push(digits.format(x).as_bytes());
    push(&[b';', b, b'=']);
    push(digits.format(y).as_bytes());
    HeaderValue::from_bytes(&text[..len]).ok()
}

/// What a quota is counted per: a client's IP bucket, or an identity given as the parts of its
/// text (`sub:` and the qualified subject, ...). The memory store hashes the parts as they are;
/// only a shared store needs them joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaKey<'a> {
    /// A client IP bucket (`ip:192.0.2.1`).
    Ip(std::net::IpAddr),
    /// The concatenation of these parts.
    Text([&'a str; 4]),
}

impl<'a> QuotaKey<'a> {
    /// A key given as one string.
    pub(crate) fn text(key: &'a str) -> Self {
        QuotaKey::Text([key, "", "", ""])
    }

    /// The key as a shared store names it.
    pub(crate) fn joined(&self) -> String {
        match self {
            QuotaKey::Ip(ip) => format!("ip:{ip}"),
            QuotaKey::Text(parts) => parts.concat(),
        }
    }

    /// Feeds the key to `hasher` without joining it.
    pub(crate) fn hash_into(&self, hasher: &mut impl std::hash::Hasher) {
        match self {
            QuotaKey::Ip(std::net::IpAddr::V4(v4)) => {
                hasher.write_u8(4);
                hasher.write(&v4.octets());
            }
            QuotaKey::Ip(std::net::IpAddr::V6(v6)) => {
                hasher.write_u8(6);
                hasher.write(&v6.octets());
            }
            QuotaKey::Text(parts) => {
                hasher.write_u8(0);
                parts.iter().for_each(|part| hasher.write(part.as_bytes()));
                hasher.write_u8(0xff);
            }
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Allowed; the quota's state.
    Allowed(RateDecision),
    /// Over the limit; the quota's state and how long to wait.
    Limited(RateDecision, Duration),
    /// The memory store tracks its maximum number of keys: new keys are refused.
    Full,
    /// The shared store failed and the failure mode allows the request (`Open`).
    AllowedUnchecked,
    /// The shared store failed and the failure mode refuses (`Closed`).
    Unavailable,
}
