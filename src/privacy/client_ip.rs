//! The client's IP address: where it comes from, and the one type that may hold it.
//!
//! [`ClientIp`] lives only in the request handler's scope (docs/privacy.md A2). It is not
//! `Clone`, `Debug`, `Display` or `Serialize`, so it cannot be printed, logged, copied into an
//! event or sent anywhere by accident; the privacy stage takes it *by value* and drops it there.
//! Its address can be read only inside [`crate::privacy`] (`pub(in crate::privacy)`): the rest
//! of the crate can make one, from the peer and the trusted proxies' headers
//! ([`TrustedProxies::client`]) or from an authorised Matomo `cip` ([`ClientIp::parse`]), and
//! hand it on, nothing else. Any type that holds one has no `Debug` either.
//!
//! It can be made and handed on (this compiles, so the failures below are about the traits):
//! ```
//! # use mesure::privacy::client_ip::ClientIp;
//! fn hand_on(ip: ClientIp) -> ClientIp { ip }
//! let ip = hand_on(ClientIp::new("203.0.113.45".parse().unwrap()));
//! # drop(ip);
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn leak(ip: ClientIp) -> String { format!("{ip:?}") } // no Debug
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn leak(ip: ClientIp) -> String { format!("{ip}") } // no Display
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn leak(ip: ClientIp) -> String { serde_json::to_string(&ip).unwrap() } // no Serialize
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn copy(ip: &ClientIp) -> ClientIp { ip.clone() } // no Clone
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn read(ip: &ClientIp) -> std::net::IpAddr { ip.addr() } // the address is private to `privacy`
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn read(ip: &ClientIp) -> [u8; 16] { ip.octets16() } // so are its bytes
//! ```
//! ```compile_fail
//! # use mesure::privacy::client_ip::ClientIp;
//! fn read(ip: ClientIp) -> std::net::IpAddr { ip.0 } // and the field
//! ```

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hyper::HeaderMap;
use hyper::header::{FORWARDED, HeaderName};
use ipnet::IpNet;

/// The visitor's address, request-scoped.
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// Wraps an address (IPv4-mapped IPv6 becomes IPv4).
    pub fn new(ip: IpAddr) -> ClientIp {
        ClientIp(canonical(ip))
    }

    /// Parses an address given as text (Matomo's authorised `cip`); `None` if it is not one.
    pub fn parse(text: &str) -> Option<ClientIp> {
        text.trim().parse::<IpAddr>().ok().map(ClientIp::new)
    }

    pub(in crate::privacy) fn addr(&self) -> IpAddr {
        self.0
    }

    /// The address as 16 bytes (IPv4 mapped into IPv6), for hashing.
    pub(in crate::privacy) fn octets16(&self) -> [u8; 16] {
        match self.0 {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        }
    }

    /// The network the address belongs to: IPv4 /24, IPv6 /48 (docs/privacy.md A5).
    pub(in crate::privacy) fn masked(&self) -> ClientIp {
        ClientIp(mask(self.0))
    }
}

// Overwrite the address when the value goes (best effort: it also makes the end of its life an
// explicit step in the privacy stage).
impl Drop for ClientIp {
    fn drop(&mut self) {
        self.0 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    }
}

/// IPv4 /24, IPv6 /48.
pub(crate) fn mask(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[6..].fill(0);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The one forwarding header the proxies in front of us set (`client_ip_header`). Only it is
/// read: a client could send any of the others, and a proxy that sets only `X-Forwarded-For`
/// passes a client's `Forwarded` through untouched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, Caddy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
    /// One address, set (replaced) by the proxy: `X-Real-IP`, `CF-Connecting-IP`,
    /// `True-Client-IP`...
    Single(HeaderName),
}

impl ClientIpHeader {
    /// From the configuration's name (case-insensitive); `None` if it is no header name.
    pub fn parse(name: &str) -> Option<ClientIpHeader> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ClientIpHeader::XForwardedFor),
            "forwarded" => Some(ClientIpHeader::Forwarded),
            other => HeaderName::from_bytes(other.as_bytes()).ok().map(ClientIpHeader::Single),
        }
    }
}

/// A client told apart from others without its address: a keyed hash (SipHash with this
/// process's random key, never written anywhere) of the client address, for per-client rate
/// limits such as the stats API's failed-credential budget. The address cannot be read back,
/// and the same address gives another key after a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClientKey(u64);

impl ClientKey {
    pub fn of(ip: &ClientIp) -> ClientKey {
        use std::hash::BuildHasher;
        static KEY: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
        ClientKey(KEY.get_or_init(std::hash::RandomState::new).hash_one(ip.octets16()))
    }

    #[cfg(test)]
    pub(crate) fn for_tests(n: u64) -> ClientKey {
        ClientKey(n)
    }
}

/// The proxies whose forwarding header is believed (`trusted_proxies`, `client_ip_header`): the
/// one place that decides which peer may speak for a client, for the client address and for the
/// scheme.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ClientIpHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies { networks, header: ClientIpHeader::default() }
    }

    /// The same proxies, setting `header`.
    pub fn with_header(mut self, header: ClientIpHeader) -> TrustedProxies {
        self.header = header;
        self
    }

    /// Whether a request from `peer` comes from a trusted proxy.
    pub(crate) fn trusts(&self, peer: SocketAddr) -> bool {
        is_trusted(canonical(peer.ip()), &self.networks)
    }

    /// The client address of a request from `peer` (docs/privacy.md A6).
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientIp {
        resolve(peer, headers, &self.networks, &self.header)
    }

    /// Whether the client of a request from `peer` is in one of `networks` (the admin pages'
    /// check: the address itself never leaves this module).
    pub(crate) fn client_within(&self, peer: SocketAddr, headers: &HeaderMap, networks: &[IpNet]) -> bool {
        is_trusted(self.client(peer, headers).0, networks)
    }

    /// `X-Forwarded-Proto: https` from a trusted proxy: the visitor reached it over HTTPS.
    pub(crate) fn forwarded_https(&self, peer: SocketAddr, headers: &HeaderMap) -> bool {
        self.trusts(peer)
            && headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
    }
}

/// The client address of a request from `peer`. The forwarding header counts only when the
/// peer is a trusted proxy; then the right-most address that is not itself a trusted proxy is
/// the client. A header that cannot be read leaves the peer as the client.
fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet], header: &ClientIpHeader) -> ClientIp {
    let peer_ip = canonical(peer.ip());
    if !is_trusted(peer_ip, trusted) {
        return ClientIp(peer_ip);
    }
    let chain = forwarded_chain(headers, header);
    let Some(chain) = chain else { return ClientIp(peer_ip) };
    let mut leftmost = None;
    for hop in chain.iter().rev() {
        let Some(ip) = hop else { return ClientIp(peer_ip) };
        let ip = canonical(*ip);
        if !is_trusted(ip, trusted) {
            return ClientIp(ip);
        }
        leftmost = Some(ip);
    }
    // Every hop was a trusted proxy: the first one is as close to the client as we get.
    ClientIp(leftmost.unwrap_or(peer_ip))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hops named by the forwarding header, left (client side) to right; `None` entries could
/// not be parsed. `None` when the header is absent.
fn forwarded_chain(headers: &HeaderMap, header: &ClientIpHeader) -> Option<Vec<Option<IpAddr>>> {
    // Repeated header lines form one list; the usual single line is borrowed as it is.
    let joined = |name: &HeaderName| -> Option<Cow<'_, str>> {
        let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => Some(Cow::Owned([first, second].into_iter().chain(values).collect::<Vec<_>>().join(","))),
        }
    };
    match header {
        ClientIpHeader::Forwarded => {
            let forwarded = joined(&FORWARDED)?;
            let hops = forwarded
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (key, value) = pair.trim().split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then(|| parse_hop(value.trim().trim_matches('"')))
                    })
                })
                .map(Option::flatten)
                .collect();
            Some(hops)
        }
        ClientIpHeader::XForwardedFor => {
            Some(joined(&X_FORWARDED_FOR)?.split(',').map(|hop| parse_hop(hop.trim())).collect())
        }
        // One address: a repeated line means a client sent its own next to the proxy's.
        ClientIpHeader::Single(name) => {
            let mut values = headers.get_all(name).iter();
            let value = values.next()?.to_str().ok();
            if values.next().is_some() {
                return Some(vec![None]);
            }
            Some(vec![value.and_then(|v| parse_hop(v.trim()))])
        }
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    fn client(peer: &str, pairs: &[(&'static str, &'static str)]) -> IpAddr {
        client_by(&ClientIpHeader::XForwardedFor, peer, pairs)
    }

    fn client_by(header: &ClientIpHeader, peer: &str, pairs: &[(&'static str, &'static str)]) -> IpAddr {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        resolve(peer.parse().unwrap(), &headers(pairs), &trusted, header).addr()
    }

    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        assert_eq!(
            client("198.51.100.7:5000", &[("x-forwarded-for", "203.0.113.45")]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("198.51.100.7:5000", &[("forwarded", "for=203.0.113.45")]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client("127.0.0.1:1", &[("x-forwarded-for", "203.0.113.45")]), ip("203.0.113.45"));
        // A client-supplied spoof on the left does not win over what our proxies appended.
        assert_eq!(
            client("127.0.0.1:1", &[("x-forwarded-for", "1.1.1.1, 203.0.113.45, 10.1.2.3")]),
            ip("203.0.113.45")
        );
        assert_eq!(
            client("127.0.0.1:1", &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.45")]),
            ip("203.0.113.45")
        );
        assert_eq!(client("127.0.0.1:1", &[("x-forwarded-for", "10.0.0.1, 10.0.0.2")]), ip("10.0.0.1"));
        assert_eq!(client("127.0.0.1:1", &[("x-forwarded-for", "[2001:db8::1]:443")]), ip("2001:db8::1"));
        assert_eq!(client("127.0.0.1:1", &[("x-forwarded-for", "203.0.113.45:8080")]), ip("203.0.113.45"));
    }

    #[test]
    fn only_the_configured_header_is_believed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // The proxy sets X-Forwarded-For; the client's own Forwarded or X-Real-IP is not read.
        let spoofed = [("forwarded", "for=1.1.1.1"), ("x-real-ip", "1.1.1.1"), ("x-forwarded-for", "203.0.113.45")];
        assert_eq!(client("127.0.0.1:1", &spoofed), ip("203.0.113.45"));
        assert_eq!(client("127.0.0.1:1", &[("forwarded", "for=1.1.1.1")]), ip("127.0.0.1"));
        // Cloudflare: CF-Connecting-IP only; two lines of it mean one came from the client.
        let cf = ClientIpHeader::parse("CF-Connecting-IP").unwrap();
        assert_eq!(
            client_by(&cf, "10.0.0.5:1", &[("cf-connecting-ip", "203.0.113.45"), ("x-forwarded-for", "1.1.1.1")]),
            ip("203.0.113.45")
        );
        assert_eq!(
            client_by(&cf, "10.0.0.5:1", &[("cf-connecting-ip", "1.1.1.1"), ("cf-connecting-ip", "203.0.113.45")]),
            ip("10.0.0.5")
        );
        assert_eq!(client_by(&cf, "198.51.100.7:1", &[("cf-connecting-ip", "1.1.1.1")]), ip("198.51.100.7"));
        assert_eq!(ClientIpHeader::parse("Forwarded"), Some(ClientIpHeader::Forwarded));
        assert_eq!(ClientIpHeader::parse("not a header"), None);
    }

    #[test]
    fn forwarded_header_for_values() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let forwarded = |pairs| client_by(&ClientIpHeader::Forwarded, "127.0.0.1:1", pairs);
        assert_eq!(forwarded(&[("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")]), ip("192.0.2.60"));
        assert_eq!(forwarded(&[("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")]), ip("2001:db8:cafe::17"));
        assert_eq!(forwarded(&[("forwarded", "for=198.51.100.1, for=10.0.0.9")]), ip("198.51.100.1"));
        // With Forwarded configured, a client's X-Forwarded-For is not read.
        assert_eq!(forwarded(&[("forwarded", "for=192.0.2.60"), ("x-forwarded-for", "192.0.2.61")]), ip("192.0.2.60"));
    }

    #[test]
    fn unreadable_hops_fall_back_to_the_peer() {
        assert_eq!(client("127.0.0.1:1", &[("x-forwarded-for", "garbage")]), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            client_by(&ClientIpHeader::Forwarded, "127.0.0.1:1", &[("forwarded", "for=_hidden")]),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let ip = ClientIp::new("::ffff:203.0.113.45".parse().unwrap());
        assert_eq!(ip.addr(), "203.0.113.45".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn masks() {
        assert_eq!(mask("203.0.113.45".parse().unwrap()), "203.0.113.0".parse::<IpAddr>().unwrap());
        assert_eq!(
            mask("2001:db8:85a3:8d3:1319:8a2e:370:7348".parse().unwrap()),
            "2001:db8:85a3::".parse::<IpAddr>().unwrap()
        );
    }
}
