//! HTTP-level tests of the runtime, from the attacker's side.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod authn;
mod authz;
mod cache;
mod compose;
mod dpop;
mod endpoints;
mod headers;
mod introspect;
mod introspection;
mod jwks;
mod metrics;
mod notes;
mod openapi;
mod panic;
mod passage;
mod rate;
mod schemes;
mod services;
mod timeouts;
mod tls;
mod validation;
