-- Read-only API tokens, one site each. Only the SHA-256 of a token is stored; the token itself
-- is printed once by `mesure token create`. A revocation is a row in api_token_revocations.
CREATE TABLE IF NOT EXISTS api_tokens
(
    token_hash  String,
    site_id     UInt32,
    name        String,
    created_at  DateTime
)
ENGINE = MergeTree
ORDER BY (site_id, token_hash);

CREATE TABLE IF NOT EXISTS api_token_revocations
(
    token_hash  String,
    revoked_at  DateTime
)
ENGINE = MergeTree
ORDER BY token_hash;
