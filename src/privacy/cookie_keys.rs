//! Keys for cookie-mode sites (PRIVACY.md B5, E4).
//!
//! A site with `cookie_mode = true` identifies visitors by the tracker's first-party cookie
//! (Matomo `_id`). The cookie's value is never stored: it is hashed with a random per-site key
//! held in ClickHouse (`cookie_keys`), the same for every collector and for the cookie's whole
//! life, so `mesure erase` and `mesure export` can find that visitor's rows from the value the
//! visitor hands over. Collectors that create a site's key at the same moment converge on the
//! smallest candidate, as with salts.

use std::collections::HashMap;
use std::time::Duration;

use clickhouse::Row;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::SiteConfig;

#[derive(Row, Serialize, Deserialize)]
struct KeyRow {
    site_id: u32,
    key: String,
    created_at: u32,
}

/// The cookie keys of the cookie-mode sites.
#[derive(Default)]
pub struct CookieKeys {
    keys: HashMap<u32, Zeroizing<[u8; 32]>>,
}

impl CookieKeys {
    /// Loads (or creates) the key of every cookie-mode site.
    pub async fn load(
        client: &clickhouse::Client,
        sites: &[SiteConfig],
        now: u64,
        settle: Duration,
    ) -> clickhouse::error::Result<CookieKeys> {
        let mut keys = HashMap::new();
        for site in sites.iter().filter(|s| s.cookie_mode) {
            if let Some(key) = stored(client, site.id).await? {
                keys.insert(site.id, key);
                continue;
            }
            let mut candidate = Zeroizing::new([0u8; 32]);
            getrandom::fill(candidate.as_mut_slice()).expect("the OS random number generator is available");
            let row = KeyRow { site_id: site.id, key: hex::encode(candidate.as_slice()), created_at: now as u32 };
            let mut insert = client.insert::<KeyRow>("cookie_keys").await?;
            insert.write(&row).await?;
            insert.end().await?;
            tokio::time::sleep(settle).await;
            keys.insert(site.id, stored(client, site.id).await?.unwrap_or(candidate));
        }
        Ok(CookieKeys { keys })
    }

    /// Only the keys that already exist (for `erase` and `export`, which must not create one).
    pub async fn existing(client: &clickhouse::Client, site_id: u32) -> clickhouse::error::Result<CookieKeys> {
        let mut keys = HashMap::new();
        if let Some(key) = stored(client, site_id).await? {
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

async fn stored(client: &clickhouse::Client, site_id: u32) -> clickhouse::error::Result<Option<Zeroizing<[u8; 32]>>> {
    let text: Option<String> = client
        .query("SELECT key FROM cookie_keys WHERE site_id = ? ORDER BY key LIMIT 1")
        .bind(site_id)
        .fetch_optional()
        .await?;
    Ok(text.and_then(|t| {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(t, key.as_mut_slice()).ok().map(|()| key)
    }))
}
