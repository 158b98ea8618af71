//! Erasure and access for cookie-mode sites (docs/privacy.md B5, E4; GDPR art. 15, 17).
//!
//! On a cookie-mode site a visitor can hand over their visitor cookie value; it is hashed the
//! same way as at ingest ([`CookieKeys`]) and:
//! - `mesure erase` deletes every row with that visitor id from every table that has one, and
//!   records (site, hashed id, time) in the `erasures` ledger;
//! - `mesure erase --replay` applies the ledger again (after a backup restore);
//! - `mesure export` returns that visitor's rows (the right of access).
//!
//! On a cookieless site nobody can be identified: a visitor id is a hash of the address and the
//! browser with a salt that is deleted within two days, so no request can be matched to rows
//! (GDPR art. 11). The commands say so instead of pretending.

use std::time::Duration;

use crate::config::SiteConfig;
use crate::event::Event;
use crate::privacy::cookie_keys::CookieKeys;
use crate::store::Store;

/// What `erase` and `export` print for a cookieless site.
pub const COOKIELESS_EXPLANATION: &str = "\
This site is cookieless: mesure cannot identify a visitor, so it cannot find, export or erase
one person's data (GDPR art. 11(2)). A visitor id is a hash of the site, the IP address and the
browser's user agent with a random salt that changes every day and is deleted within 48 hours;
the address and user agent themselves are never stored. Nothing a visitor can hand over can be
matched to stored rows, and the statistics kept are not personal data of an identifiable person.
";

/// How long an erasure waits for ClickHouse to finish deleting.
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("site {0} is cookieless")]
    Cookieless(u32),
    #[error(transparent)]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("the deletion did not finish within {0:?}")]
    Timeout(Duration),
}

/// The hashed visitor id of a cookie value on a cookie-mode site (`None`: no key yet, so
/// nothing was ever stored for anyone).
pub async fn visitor_id(store: &Store, site: &SiteConfig, cookie: &str) -> Result<Option<u64>, ErasureError> {
    if !site.cookie_mode {
        return Err(ErasureError::Cookieless(site.id));
    }
    Ok(CookieKeys::existing(store, site.id).await?.visitor_id(site.id, cookie))
}

/// Deletes every row of one visitor, records it in the ledger; returns the rows deleted.
pub async fn erase(store: &Store, site: &SiteConfig, cookie: &str, now: u64) -> Result<u64, ErasureError> {
    let Some(visitor) = visitor_id(store, site, cookie).await? else { return Ok(0) };
    let rows = delete_visitor(store, site.id, visitor).await?;
    store.record_erasure(site.id, visitor, now as u32).await?;
    Ok(rows)
}

/// Erases again every visitor in the ledger; returns (ledger entries, rows deleted).
pub async fn replay(store: &Store) -> Result<(u64, u64), ErasureError> {
    let entries = store.erasure_ledger().await?;
    let mut rows = 0;
    for (site, visitor) in &entries {
        rows += delete_visitor(store, *site, *visitor).await?;
    }
    Ok((entries.len() as u64, rows))
}

/// One visitor's rows (the right of access).
pub async fn export(store: &Store, site: &SiteConfig, cookie: &str) -> Result<Vec<Event>, ErasureError> {
    let Some(visitor) = visitor_id(store, site, cookie).await? else { return Ok(Vec::new()) };
    Ok(store.visitor_rows(site.id, visitor).await?)
}

async fn delete_visitor(store: &Store, site_id: u32, visitor: u64) -> Result<u64, ErasureError> {
    let deleted = store.delete_visitor_rows(site_id, visitor).await?;
    if !store.wait_for_mutations(DELETION_TIMEOUT).await? {
        return Err(ErasureError::Timeout(DELETION_TIMEOUT));
    }
    Ok(deleted)
}
