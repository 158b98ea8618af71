//! Read-only API tokens (docs/privacy.md F1): of one site, several or all, stored as SHA-256
//! hashes (one row per site; site 0 for all of them).
//!
//! `mesure token create --site N` (`--sites 1,2`, `--all-sites`) prints a new token once; `mesure token list` shows ids (the
//! first 12 hex digits of the hash) and `mesure token revoke --id ID` revokes. The stats API
//! holds the valid tokens in memory, reloaded every 10 s: a revocation takes effect within that.

use sha2::{Digest, Sha256};

use crate::store::rows::{RevocationRow, SignInLinkRow, SignInUseRow, TokenInfo, TokenRow};
use crate::store::{Result, Store, statements};

/// The valid tokens the stats API holds in memory at most (`mesure token list` shows them all).
pub(crate) const MAX_TOKENS: u32 = 100_000;

/// Hex SHA-256 of a secret (tokens, share secrets).
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

impl Store {
    /// Creates a token for the sites `site_ids` (`[0]`: every site); returns (token, id). The
    /// token is not stored.
    pub async fn create_token(&self, site_ids: &[u32], name: &str, now: u64) -> Result<(String, String)> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let token = format!("mst_{}", hex::encode(bytes));
        let token_hash = hash(&token);
        let rows: Vec<TokenRow> = site_ids
            .iter()
            .map(|&site_id| TokenRow {
                token_hash: token_hash.clone(),
                site_id,
                name: name.to_string(),
                created_at: now as u32,
            })
            .collect();
        self.insert(&statements::TOKEN_INSERT, &rows).await?;
        Ok((token, token_hash[..12].to_string()))
    }

    /// Revokes every token whose id (hash prefix, at least 8 hex digits) is `id`; returns how
    /// many.
    pub async fn revoke_token(&self, id: &str, now: u64) -> Result<usize> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(0);
        }
        let hashes: Vec<String> = self.query(&statements::TOKENS_BY_ID).bind(id.as_str()).fetch_all().await?;
        let rows: Vec<RevocationRow> =
            hashes.iter().map(|h| RevocationRow { token_hash: h.clone(), revoked_at: now as u32 }).collect();
        self.insert(&statements::TOKEN_REVOCATION_INSERT, &rows).await?;
        Ok(hashes.len())
    }

    /// The tokens, newest first.
    pub async fn list_tokens(&self, site_id: Option<u32>) -> Result<Vec<TokenInfo>> {
        let site = site_id.unwrap_or(0);
        self.query(&statements::TOKEN_LIST).bind(site).bind(site).fetch_all().await
    }

    /// Every token that is not revoked (its hash and site), at most [`MAX_TOKENS`].
    pub(crate) async fn valid_tokens(&self) -> Result<Vec<(String, u32)>> {
        self.query(&statements::TOKEN_INDEX).bind(MAX_TOKENS).fetch_all().await
    }

    /// A one-time link that signs the dashboard in with the token of `token_hash`, valid for
    /// `valid_for` seconds; returns its code (stored hashed, shown once).
    pub async fn create_sign_in_link(
        &self,
        token_hash: &str,
        site_id: u32,
        now: u64,
        valid_for: u64,
    ) -> Result<String> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let code = hex::encode(bytes);
        let row = SignInLinkRow {
            code_hash: hash(&code),
            token_hash: token_hash.to_string(),
            site_id,
            expires_at: (now + valid_for).min(u64::from(u32::MAX)) as u32,
        };
        self.insert(&statements::SIGN_IN_LINK_INSERT, &[row]).await?;
        Ok(code)
    }

    /// Uses a sign-in link: the hash of its token and its site, once, before it expires.
    pub(crate) async fn redeem_sign_in_link(&self, code: &str, now: u64) -> Result<Option<(String, u32)>> {
        let code_hash = hash(code);
        let found: Option<(String, u32)> = self
            .query(&statements::SIGN_IN_LINK_FIND)
            .bind(code_hash.as_str())
            .bind(now.min(u64::from(u32::MAX)) as u32)
            .fetch_optional()
            .await?;
        if found.is_some() {
            let used = SignInUseRow { code_hash, used_at: now as u32 };
            self.insert(&statements::SIGN_IN_LINK_USE_INSERT, &[used]).await?;
        }
        Ok(found)
    }
}
