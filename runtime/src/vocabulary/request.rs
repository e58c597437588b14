//! Who asked what ([`RequestContext`]): the request's id, method, route template and client,
//! as every audit event carries them. The request edge fills it in
//! ([`RequestContext::from_parts`]).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::http::Method;

/// Who asked what: the fields every audit event carries.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id.
    pub request_id: Arc<str>,
    /// The method.
    pub method: Method,
    /// The route template (`/notes/{id}`), never the raw path or query.
    pub route: Arc<str>,
    /// The client IP.
    pub client_ip: IpAddr,
}

impl Default for RequestContext {
    fn default() -> Self {
        Self {
            request_id: Arc::from("-"),
            method: Method::GET,
            route: Arc::from("unmatched"),
            client_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}
