//! Layer 2, the request edge: what is known of a request before any check runs — its id and
//! client IP, the context its audit events carry ([`context`]) — and the headers every response
//! leaves with ([`headers`]).

pub mod context;
pub mod headers;
