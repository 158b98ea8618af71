//! Read-only API tokens (PRIVACY.md F1): one site each, stored as SHA-256 hashes.
//!
//! `mesure token create --site N` prints a new token once; `mesure token list` shows ids (the
//! first 12 hex digits of the hash) and `mesure token revoke --id ID` revokes. The stats API
//! checks a token on every request, so a revocation takes effect at once.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Row, Serialize, Deserialize)]
struct TokenRow {
    token_hash: String,
    site_id: u32,
    name: String,
    created_at: u32,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct RevocationRow {
    token_hash: String,
    revoked_at: u32,
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

/// Hex SHA-256 of a secret (tokens, share secrets).
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// Creates a token for `site_id`; returns (token, id). The token is not stored.
pub async fn create(
    client: &clickhouse::Client,
    site_id: u32,
    name: &str,
    now: u64,
) -> clickhouse::error::Result<(String, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    let token = format!("mst_{}", hex::encode(bytes));
    let token_hash = hash(&token);
    let mut insert = client.insert::<TokenRow>("api_tokens").await?;
    insert
        .write(&TokenRow { token_hash: token_hash.clone(), site_id, name: name.to_string(), created_at: now as u32 })
        .await?;
    insert.end().await?;
    Ok((token, token_hash[..12].to_string()))
}

/// Revokes every token whose id (hash prefix, at least 8 hex digits) is `id`; returns how many.
pub async fn revoke(client: &clickhouse::Client, id: &str, now: u64) -> clickhouse::error::Result<usize> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(0);
    }
    let hashes: Vec<String> = client
        .query("SELECT DISTINCT token_hash FROM api_tokens WHERE startsWith(token_hash, ?)")
        .bind(id.as_str())
        .fetch_all()
        .await?;
    let mut insert = client.insert::<RevocationRow>("api_token_revocations").await?;
    for token_hash in &hashes {
        insert.write(&RevocationRow { token_hash: token_hash.clone(), revoked_at: now as u32 }).await?;
    }
    insert.end().await?;
    Ok(hashes.len())
}

/// The tokens, newest first.
pub async fn list(client: &clickhouse::Client, site_id: Option<u32>) -> clickhouse::error::Result<Vec<TokenInfo>> {
    client
        .query(
            "SELECT substring(token_hash, 1, 12) AS id, site_id, name, toUInt32(created_at) AS created_at, \
             toUInt8(token_hash IN (SELECT token_hash FROM api_token_revocations)) AS revoked \
             FROM api_tokens WHERE ? = 0 OR site_id = ? ORDER BY created_at DESC",
        )
        .bind(site_id.unwrap_or(0))
        .bind(site_id.unwrap_or(0))
        .fetch_all()
        .await
}

/// The site a token reads, if it exists and is not revoked.
pub async fn site_of(client: &clickhouse::Client, token: &str) -> clickhouse::error::Result<Option<u32>> {
    client
        .query(
            "SELECT site_id FROM api_tokens WHERE token_hash = ? \
             AND token_hash NOT IN (SELECT token_hash FROM api_token_revocations) LIMIT 1",
        )
        .bind(hash(token).as_str())
        .fetch_optional()
        .await
}
