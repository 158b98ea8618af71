-- One-time dashboard sign-in links (`mesure token create --sign-in-link`): only the SHA-256 of a
-- link's code is stored, with the token it signs in with (its hash) and an expiry; a use is a row
-- in sign_in_link_uses, so a link works once.
CREATE TABLE IF NOT EXISTS sign_in_links
(
    code_hash   String,
    token_hash  String,
    site_id     UInt32,
    expires_at  DateTime
)
ENGINE = MergeTree
ORDER BY code_hash;

CREATE TABLE IF NOT EXISTS sign_in_link_uses
(
    code_hash  String,
    used_at    DateTime
)
ENGINE = MergeTree
ORDER BY code_hash;
