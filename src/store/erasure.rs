//! Erasure and access for cookie-mode sites (PRIVACY.md B5, E4; GDPR art. 15, 17).
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

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::config::SiteConfig;
use crate::event::Event;
use crate::privacy::cookie_keys::CookieKeys;

/// What `erase` and `export` print for a cookieless site.
pub const COOKIELESS_EXPLANATION: &str = "\
This site is cookieless: mesure cannot identify a visitor, so it cannot find, export or erase
one person's data (GDPR art. 11(2)). A visitor id is a hash of the site, the IP address and the
browser's user agent with a random salt that changes every day and is deleted within 48 hours;
the address and user agent themselves are never stored. Nothing a visitor can hand over can be
matched to stored rows, and the statistics kept are not personal data of an identifiable person.
";

#[derive(Debug, Row, Serialize, Deserialize)]
struct ErasureRow {
    site_id: u32,
    visitor_id: u64,
    erased_at: u32,
}

/// Tables that hold a visitor id.
pub const VISITOR_TABLES: &[&str] = &["events"];
/// One visitor's rows.
pub const EXPORT_SQL: &str = "SELECT ?fields FROM events WHERE site_id = ? AND visitor_id = ? ORDER BY timestamp";
/// The ledger, for a replay.
pub const LEDGER_SQL: &str = "SELECT DISTINCT site_id, visitor_id FROM erasures ORDER BY site_id, visitor_id";
/// Mutations not finished yet (18.16 has no `mutations_sync`).
pub const PENDING_MUTATIONS_SQL: &str =
    "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0";

/// Counting and deleting one visitor's rows in `table`.
pub fn count_sql(table: &str) -> String {
    format!("SELECT count() FROM {table} WHERE site_id = ? AND visitor_id = ?")
}

pub fn delete_sql(table: &str, cluster: Option<&crate::store::cluster::Cluster>) -> String {
    format!(
        "ALTER TABLE {} DELETE WHERE site_id = ? AND visitor_id = ?",
        crate::store::cluster::alter_target(table, cluster)
    )
}

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
pub async fn visitor_id(
    client: &clickhouse::Client,
    site: &SiteConfig,
    cookie: &str,
) -> Result<Option<u64>, ErasureError> {
    if !site.cookie_mode {
        return Err(ErasureError::Cookieless(site.id));
    }
    Ok(CookieKeys::existing(client, site.id).await?.visitor_id(site.id, cookie))
}

/// Deletes every row of one visitor, records it in the ledger; returns the rows deleted.
pub async fn erase(
    client: &clickhouse::Client,
    site: &SiteConfig,
    cookie: &str,
    now: u64,
    cluster: Option<&crate::store::cluster::Cluster>,
) -> Result<u64, ErasureError> {
    let Some(visitor) = visitor_id(client, site, cookie).await? else { return Ok(0) };
    let rows = delete_visitor(client, site.id, visitor, cluster).await?;
    let mut insert = client.insert::<ErasureRow>("erasures").await?;
    insert.write(&ErasureRow { site_id: site.id, visitor_id: visitor, erased_at: now as u32 }).await?;
    insert.end().await?;
    Ok(rows)
}

/// Erases again every visitor in the ledger; returns (ledger entries, rows deleted).
pub async fn replay(
    client: &clickhouse::Client,
    cluster: Option<&crate::store::cluster::Cluster>,
) -> Result<(u64, u64), ErasureError> {
    let entries: Vec<(u32, u64)> = client
        .query("SELECT DISTINCT site_id, visitor_id FROM erasures ORDER BY site_id, visitor_id")
        .fetch_all()
        .await?;
    let mut rows = 0;
    for (site, visitor) in &entries {
        rows += delete_visitor(client, *site, *visitor, cluster).await?;
    }
    Ok((entries.len() as u64, rows))
}

/// One visitor's rows (the right of access).
pub async fn export(client: &clickhouse::Client, site: &SiteConfig, cookie: &str) -> Result<Vec<Event>, ErasureError> {
    let Some(visitor) = visitor_id(client, site, cookie).await? else { return Ok(Vec::new()) };
    Ok(client.query(EXPORT_SQL).bind(site.id).bind(visitor).fetch_all().await?)
}

async fn delete_visitor(
    client: &clickhouse::Client,
    site_id: u32,
    visitor: u64,
    cluster: Option<&crate::store::cluster::Cluster>,
) -> Result<u64, ErasureError> {
    let mut deleted = 0;
    for table in VISITOR_TABLES {
        let count: u64 = client.query(&count_sql(table)).bind(site_id).bind(visitor).fetch_one().await?;
        if count == 0 {
            continue;
        }
        client.query(&delete_sql(table, cluster)).bind(site_id).bind(visitor).execute().await?;
        deleted += count;
    }
    wait_for_mutations(client, Duration::from_secs(120)).await?;
    Ok(deleted)
}

/// Waits until ClickHouse has finished every mutation of the database (18.16 has no
/// `mutations_sync`).
pub async fn wait_for_mutations(client: &clickhouse::Client, within: Duration) -> Result<(), ErasureError> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let pending: u64 = client.query(PENDING_MUTATIONS_SQL).fetch_one().await?;
        if pending == 0 {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(ErasureError::Timeout(within));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
