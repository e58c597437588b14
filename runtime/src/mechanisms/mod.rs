//! Layer 1, the mechanisms: each does one security job over the vocabulary and knows nothing of
//! requests in flight or routing: authentication ([`auth`]), rate limiting ([`rate`]), the
//! failed-attempt lockout ([`lockout`]), audit events ([`audit`]), metrics ([`metrics`]), the
//! OpenAPI document model ([`openapi`]), field sealing ([`crypto`]), client IPs behind proxies
//! ([`client_ip`]), CORS ([`cors`]), deadlines ([`timeout`]), TLS ([`tls`]), development tokens
//! ([`token`]), and the settings read from the environment ([`config`]).

pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod lockout;
pub mod openapi;
pub mod rate;
pub mod relations;
pub(crate) mod telemetry;
pub mod timeout;
pub mod tls;
pub mod token;
pub mod trace;
