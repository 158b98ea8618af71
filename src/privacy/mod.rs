//! The privacy stage: the only place the client's IP address is seen.
//!
//! [`Privacy::identify`] takes the [`ClientIp`] *by value*, turns it into a city-level
//! [`Place`] and a salted visitor id, and drops the address before it returns: nothing that
//! leaves this module can carry it (docs/privacy.md A1, A2, B1). Only code in this module can
//! read the address out of a [`ClientIp`].
//!
//! - [`client_ip`]: which address is the client's (trusted proxies), and the type that holds it;
//! - [`gate`]: opt-out, DNT, GPC, checked before any other work;
//! - [`geo`]: city-level look-up in a local `.mmdb`;
//! - [`salts`]: the rotating salts (kept in ClickHouse through [`crate::store::Store`]);
//! - [`cookie_keys`]: the per-site keys of cookie-mode sites.
//!
//! Visits are not here: they hold visitor ids, never an address ([`crate::visits`]).

pub mod client_ip;
pub mod cookie_keys;
pub mod gate;
pub mod geo;
pub mod salts;

use std::sync::Arc;

use hmac::Mac;

use client_ip::ClientIp;
use cookie_keys::CookieKeys;
use geo::{Geo, Place};
use salts::{Salt, SaltSet};

/// What the privacy stage lets through about a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub place: Place,
    pub visitor_id: u64,
    /// The visitor's id under the previous salt, during the grace after a rotation only: it lets
    /// a visit that crosses the rotation continue (B4).
    pub previous_id: Option<u64>,
}

/// What [`SaltSource::prepare`] returns: done when the salts are there.
pub type Preparing<'a> = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where the salts in use come from: the [`salts::SaltKeeper`] in the collector, a fixed set in
/// tests of the pipeline (which then need no ClickHouse).
pub trait SaltSource: Send + Sync {
    /// The salts to hash with now.
    fn salts(&self) -> arc_swap::Guard<Arc<SaltSet>>;

    /// Makes salts for the earlier `periods` (days) that have none, where it can.
    fn prepare<'a>(&'a self, periods: &'a [u32]) -> Preparing<'a>;
}

impl SaltSource for arc_swap::ArcSwap<SaltSet> {
    fn salts(&self) -> arc_swap::Guard<Arc<SaltSet>> {
        self.load()
    }

    /// A fixed set makes none: hits of a day it has no salt for are refused.
    fn prepare<'a>(&'a self, _periods: &'a [u32]) -> Preparing<'a> {
        Box::pin(std::future::ready(()))
    }
}

/// What identifies the visitor, besides the address.
pub enum VisitorKey<'a> {
    /// Cookieless (the default): the user agent, hashed with the site and the address.
    UserAgent(&'a str),
    /// A visitor id sent by the site's server with its token (Matomo `cid`), hashed the same way.
    ServerId(&'a str),
    /// The tracker's first-party visitor cookie (Matomo `_id`) on a cookie-mode site (B5),
    /// hashed the same way: never stored raw.
    Cookie(&'a str),
}

/// The privacy stage's state.
pub struct Privacy {
    pub geo: Arc<Geo>,
    pub salts: Arc<dyn SaltSource>,
    pub cookie_keys: CookieKeys,
}

impl Privacy {
    /// Locates and identifies the visitor of `site_id` for a hit at `at` (Unix seconds),
    /// consuming the address. A hit is hashed with the salt of its own day (B6); `None` when
    /// that day has no salt (see [`SaltSource::prepare`]).
    pub fn identify(&self, site_id: u32, ip: ClientIp, key: VisitorKey<'_>, at: u64) -> Option<Identity> {
        let salts = self.salts.salts();
        let salt = salts.for_period(salts::period_of(at));
        // A cookie-mode site's visitor keeps one id for the cookie's life (hashed with the
        // site's cookie key); everyone else gets a salted id that changes every day.
        let cookie_id = match key {
            VisitorKey::Cookie(cookie) => self.cookie_keys.visitor_id(site_id, cookie),
            _ => None,
        };
        let visitor_id = match (cookie_id, salt) {
            (Some(id), _) => id,
            (None, Some(salt)) => visitor_id(salt, site_id, &ip, &key),
            (None, None) => return None,
        };
        // Only for a hit of today during the grace after a rotation: the id under the previous
        // salt, to continue a visit that crosses midnight (B4).
        let today = salt.is_some_and(|salt| salt.period() == salts.current.period());
        let previous_id = salts
            .previous
            .as_ref()
            .filter(|_| cookie_id.is_none() && today)
            .map(|old| visitor_id_with(old, site_id, &ip, &key));
        let place = self.geo.locate(&ip);
        drop(ip);
        Some(Identity { place, visitor_id, previous_id })
    }
}

/// `HMAC-SHA256(salt, site_id ‖ ip ‖ user_agent)` truncated to 64 bits (docs/privacy.md B1). The
/// address is always 16 bytes (IPv4 mapped), so the concatenation is unambiguous.
pub fn visitor_id(salt: &Salt, site_id: u32, ip: &ClientIp, key: &VisitorKey<'_>) -> u64 {
    visitor_id_with(salt, site_id, ip, key)
}

fn visitor_id_with(salt: &Salt, site_id: u32, ip: &ClientIp, key: &VisitorKey<'_>) -> u64 {
    let mut mac = salt.mac();
    mac.update(&site_id.to_be_bytes());
    match key {
        VisitorKey::UserAgent(ua) => {
            mac.update(&ip.octets16());
            mac.update(ua.as_bytes());
        }
        VisitorKey::ServerId(id) => {
            // A server-side id does not depend on the address; a tag keeps it apart from
            // address-based input.
            mac.update(b"\0cid\0");
            mac.update(id.as_bytes());
        }
        VisitorKey::Cookie(id) => {
            mac.update(b"\0_id\0");
            mac.update(id.as_bytes());
        }
    }
    let digest = mac.finalize().into_bytes();
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit};
    use sha2::Sha256;

    /// The visitor id is exactly HMAC-SHA256(salt, site_id ‖ 16-byte address ‖ user agent),
    /// truncated to its first 8 bytes: checked against a MAC keyed from scratch.
    #[test]
    fn the_visitor_id_is_the_truncated_hmac_of_site_address_and_agent() {
        let hex_key = "0f".repeat(32);
        let salt = Salt::from_hex(7, &hex_key).unwrap();
        let ip = ClientIp::new("198.51.100.7".parse().unwrap());
        let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0f; 32]).unwrap();
        mac.update(&3u32.to_be_bytes());
        mac.update(&ip.octets16());
        mac.update(ua.as_bytes());
        let expected = u64::from_be_bytes(mac.finalize().into_bytes()[..8].try_into().unwrap());
        assert_eq!(visitor_id(&salt, 3, &ip, &VisitorKey::UserAgent(ua)), expected);
        // The keyed state is reused, not consumed: a second id from the same salt agrees.
        assert_eq!(visitor_id(&salt, 3, &ip, &VisitorKey::UserAgent(ua)), expected);
        assert_ne!(visitor_id(&salt, 4, &ip, &VisitorKey::UserAgent(ua)), expected);
    }
}
