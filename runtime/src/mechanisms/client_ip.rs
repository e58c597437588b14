//! The client's IP address, with proxy headers trusted only from configured proxies.
//!
//! By default the client is the socket peer. When the peer is a trusted proxy (a CIDR list), the
//! one forwarding header the proxies write (`X-Forwarded-For` by default, or `Forwarded`, RFC 7239:
//! exactly one, never a fallback to the other, since proxies pass the header they don't write
//! through untouched) is walked from the right, skipping trusted proxies; the first untrusted
//! address is the client. A header sent by an untrusted peer changes nothing, so a client cannot
//! choose its own rate-limit bucket or audit identity. `0.0.0.0/0` and `::/0` are refused: they
//! would trust every peer.
//!
//! # Examples
//!
//! ```
//! use axum::http::HeaderMap;
//! use rampart::client_ip::TrustedProxies;
//!
//! let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.5".parse().unwrap());
//! // From the trusted proxy 10.0.0.1: the client is the first untrusted hop from the right.
//! assert_eq!(proxies.client_ip("10.0.0.1".parse().unwrap(), &headers).to_string(), "203.0.113.7");
//! // From anyone else the header is ignored.
//! assert_eq!(proxies.client_ip("198.51.100.9".parse().unwrap(), &headers).to_string(), "198.51.100.9");
//! ```

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The address that stands for one subscriber in IP-keyed limits and lockouts: IPv4 as is (an
/// IPv4-mapped IPv6 address, as a dual-stack `[::]` listener sees IPv4 peers, is its IPv4
/// address), IPv6 by its /64 (the prefix one subscriber is given), so that nobody gets 2^64
/// buckets from one allocation.
///
/// # Examples
///
/// ```
/// use rampart::client_ip::subscriber;
///
/// assert_eq!(subscriber("2001:db8:1:2:aaaa::1".parse().unwrap()).to_string(), "2001:db8:1:2::");
/// assert_eq!(subscriber("192.0.2.7".parse().unwrap()).to_string(), "192.0.2.7");
/// assert_eq!(subscriber("::ffff:192.0.2.7".parse().unwrap()).to_string(), "192.0.2.7");
/// ```
pub fn subscriber(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// The forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx, HAProxy, cloud load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The proxies whose forwarding header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

/// A CIDR list that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{entry}` {reason}")]
pub struct ProxyListError {
    entry: String,
    reason: &'static str,
}

impl FromStr for TrustedProxies {
    type Err = ProxyListError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                ProxyListError {
                    entry: entry.to_owned(),
                    reason: "is not an IP address or CIDR block (expected for example `10.0.0.0/8, 192.0.2.1`)",
                }
            })?;
            if net.prefix_len() == 0 {
                return Err(ProxyListError {
                    entry: entry.to_owned(),
                    reason: "would trust every peer, letting any client choose its IP; list your proxies",
                });
            }
            nets.push(net);
        }
        Ok(Self { nets, header: ForwardedHeader::default() })
    }
}

impl TrustedProxies {
    /// No trusted proxy: the socket peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads `header` from trusted proxies (default `X-Forwarded-For`).
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether no proxy is trusted (every peer is taken as the client).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers, self.header);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.contains(client) {
                        return client;
                    }
                }
                // An unparseable hop ends the trusted part of the chain: stop at the last proxy.
                None => return client,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarding chain, leftmost (original client) first; `None` for an unparseable hop.
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    if header == ForwardedHeader::Forwarded {
        return headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for").then(|| parse_node(value))?
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// A node of `Forwarded: for=` or an `X-Forwarded-For` hop: `1.2.3.4`, `"[2001:db8::1]:80"`, ...
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':').and_then(|(ip, _port)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn untrusted_peer_ignores_headers() {
        let p = TrustedProxies::none();
        let ip = p.client_ip("192.0.2.1".parse().unwrap(), &headers("x-forwarded-for", "1.1.1.1"));
        assert_eq!(ip.to_string(), "192.0.2.1");
    }

    #[test]
    fn walks_from_the_right_skipping_trusted() {
        let p: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let h = headers("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1");
        assert_eq!(p.client_ip("127.0.0.1".parse().unwrap(), &h).to_string(), "203.0.113.9");
    }

    #[test]
    fn forwarded_header_when_configured_handles_ipv6() {
        let p = "127.0.0.1".parse::<TrustedProxies>().unwrap().with_header(ForwardedHeader::Forwarded);
        let h = headers("forwarded", r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#);
        assert_eq!(p.client_ip("127.0.0.1".parse().unwrap(), &h).to_string(), "2001:db8:cafe::17");
    }

    #[test]
    fn only_the_configured_header_counts() {
        let p: TrustedProxies = "127.0.0.1".parse().unwrap();
        let mut h = headers("forwarded", "for=6.6.6.6");
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        assert_eq!(p.client_ip("127.0.0.1".parse().unwrap(), &h).to_string(), "203.0.113.9");
        let only_forwarded = headers("forwarded", "for=6.6.6.6");
        assert_eq!(p.client_ip("127.0.0.1".parse().unwrap(), &only_forwarded).to_string(), "127.0.0.1");
    }

    #[test]
    fn trusting_everyone_is_refused() {
        assert!("0.0.0.0/0".parse::<TrustedProxies>().unwrap_err().to_string().contains("every peer"));
        assert!("::/0".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn garbage_hop_stops_at_the_proxy() {
        let p: TrustedProxies = "127.0.0.1".parse().unwrap();
        let h = headers("x-forwarded-for", "1.2.3.4, not-an-ip");
        assert_eq!(p.client_ip("127.0.0.1".parse().unwrap(), &h).to_string(), "127.0.0.1");
    }

    #[test]
    fn bad_list_names_the_entry() {
        let err = "10.0.0.0/8, nope".parse::<TrustedProxies>().unwrap_err();
        assert!(err.to_string().contains("`nope`"));
    }
}
