//! Keys for cookie-mode sites (docs/privacy.md B5, E4).
//!
//! A site with `cookie_mode = true` identifies visitors by the tracker's first-party cookie
//! (Matomo `_id`). The cookie's value is never stored: it is hashed with a random per-site key
//! held in ClickHouse (`cookie_keys`), the same for every collector and for the cookie's whole
//! life, so `mesure erase` and `mesure export` can find that visitor's rows from the value the
//! visitor hands over. Collectors that create a site's key at the same moment converge on the
//! smallest candidate, as with salts.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::SiteConfig;
use crate::store::Store;

/// The cookie keys of the cookie-mode sites.
#[derive(Default)]
pub struct CookieKeys {
    keys: HashMap<u32, Zeroizing<[u8; 32]>>,
}

impl CookieKeys {
    /// Loads (or creates) the key of every cookie-mode site.
    pub async fn load(
        store: &Store,
        sites: &[SiteConfig],
        now: u64,
        settle: Duration,
    ) -> crate::store::Result<CookieKeys> {
        let mut keys = HashMap::new();
        for site in sites.iter().filter(|s| s.cookie_mode) {
            if let Some(key) = stored(store, site.id).await? {
                keys.insert(site.id, key);
                continue;
            }
            let mut candidate = Zeroizing::new([0u8; 32]);
            getrandom::fill(candidate.as_mut_slice()).expect("the OS random number generator is available");
            store.insert_cookie_key(site.id, hex::encode(candidate.as_slice()), now as u32).await?;
            tokio::time::sleep(settle).await;
            keys.insert(site.id, stored(store, site.id).await?.unwrap_or(candidate));
        }
        Ok(CookieKeys { keys })
    }

    /// Only the keys that already exist (for `erase` and `export`, which must not create one).
    pub(crate) async fn existing(store: &Store, site_id: u32) -> crate::store::Result<CookieKeys> {
        let mut keys = HashMap::new();
        if let Some(key) = stored(store, site_id).await? {
            keys.insert(site_id, key);
        }
        Ok(CookieKeys { keys })
    }

    /// The visitor id of a cookie value on a site, if the site has a key.
    pub fn visitor_id(&self, site_id: u32, cookie: &str) -> Option<u64> {
        let key = self.keys.get(&site_id)?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice()).expect("HMAC takes any key length");
        mac.update(&site_id.to_be_bytes());
        mac.update(b"\0_id\0");
        mac.update(cookie.trim().to_ascii_lowercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes")))
    }
}

async fn stored(store: &Store, site_id: u32) -> crate::store::Result<Option<Zeroizing<[u8; 32]>>> {
    let text = store.cookie_key(site_id).await?;
    Ok(text.and_then(|t| {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(t, key.as_mut_slice()).ok().map(|()| key)
    }))
}
