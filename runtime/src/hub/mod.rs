//! Layer 3, the security hub: [`Security`](security::Security) holds the mechanisms a service
//! runs with (authenticator, limiter, lockout, audit sink), is built from the settings
//! ([`setup`]), and is installed in front of the routes as one tower layer ([`stack`]).

pub(crate) mod security;
pub mod setup;
pub(crate) mod stack;
