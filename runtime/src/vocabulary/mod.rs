//! Layer 0, the vocabulary: what an endpoint declares ([`contract`]: method, route, policy, rate
//! limit, OpenAPI operation), who is calling ([`principal`]), and how a request fails ([`error`],
//! [`auth_error`]), with the request context every audit event carries ([`request`]). It imports
//! nothing from the rest of the crate.

pub(crate) mod auth_error;
pub mod contract;
pub mod error;
pub(crate) mod footprint;
pub(crate) mod payload;
pub(crate) mod principal;
pub(crate) mod request;
