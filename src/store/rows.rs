//! The row types of the tables mesure writes and reads with RowBinary. RowBinary is positional
//! and unchecked: each type's fields are in the table's column order (the insert column lists in
//! [`super::statements`] are checked against them).

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// A candidate salt (`salts`). The salt is hex text in a RowBinary body, never in query text.
#[derive(Row, Serialize, Deserialize)]
pub(crate) struct SaltRow {
    pub period: u32,
    pub salt: String,
    pub created_at: u32,
}

/// A candidate cookie key of a cookie-mode site (`cookie_keys`).
#[derive(Row, Serialize, Deserialize)]
pub(crate) struct KeyRow {
    pub site_id: u32,
    pub key: String,
    pub created_at: u32,
}

/// An API token, by its hash (`api_tokens`).
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct TokenRow {
    pub token_hash: String,
    pub site_id: u32,
    pub name: String,
    pub created_at: u32,
}

/// A revoked token (`api_token_revocations`).
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct RevocationRow {
    pub token_hash: String,
    pub revoked_at: u32,
}

/// A one-time sign-in link (`sign_in_links`): the hash of its code.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct SignInLinkRow {
    pub code_hash: String,
    pub token_hash: String,
    pub site_id: u32,
    pub expires_at: u32,
}

/// A used sign-in link (`sign_in_link_uses`).
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct SignInUseRow {
    pub code_hash: String,
    pub used_at: u32,
}

/// An erased visitor (`erasures`, the ledger).
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct ErasureRow {
    pub site_id: u32,
    pub visitor_id: u64,
    pub erased_at: u32,
}

/// A listed token (never the token itself).
#[derive(Debug, Clone, Row, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub site_id: u32,
    pub name: String,
    pub created_at: u32,
    pub revoked: u8,
}

/// A site's recent activity (`mesure sites`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct SiteActivity {
    pub site_id: u32,
    /// Events since the time asked for.
    pub recent: u64,
    /// The last hit's time, Unix seconds.
    pub last_hit: u32,
}

/// Rows per (partition, site), for the retention plan.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct PartitionRows {
    pub retention_days: u16,
    pub day: u32,
    pub site_id: u32,
    pub rows: u64,
}
