-- Salts for the cookieless visitor hash (docs/privacy.md B1-B4). Shared through ClickHouse so every
-- collector computes the same visitor id in the same period. One partition per period (UTC day)
-- so an old salt is removed by dropping its partition. Several collectors may insert candidates
-- for a period at once; all of them use the smallest, and the others are deleted.
-- Not keyed by site: the site id is one of the hash's inputs.
CREATE TABLE IF NOT EXISTS salts
(
    period      UInt32,
    salt        String,
    created_at  DateTime
)
ENGINE = MergeTree
PARTITION BY period
ORDER BY (period, salt);
