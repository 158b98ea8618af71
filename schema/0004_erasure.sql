-- Cookie-mode sites (docs/privacy.md B5, E4): the key that hashes the tracker's visitor cookie into
-- visitor_id, one per site, so the same cookie gives the same id for its whole (13-month) life
-- and an erasure request can find that visitor's rows. The raw cookie value is never stored.
CREATE TABLE IF NOT EXISTS cookie_keys
(
    site_id     UInt32,
    key         String,
    created_at  DateTime
)
ENGINE = MergeTree
ORDER BY (site_id, key);

-- The erasure ledger: which visitor ids were erased, so `mesure erase --replay` can erase them
-- again after a backup is restored. Holds hashed ids only.
CREATE TABLE IF NOT EXISTS erasures
(
    site_id     UInt32,
    visitor_id  UInt64,
    erased_at   DateTime
)
ENGINE = MergeTree
ORDER BY (site_id, visitor_id);
