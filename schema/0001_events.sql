-- One row per accepted hit. Designed for the whole product (docs/architecture.md, storage):
--   * no IP, no raw user agent, no latitude/longitude, no query string beyond a site's allow-list;
--   * site_id and time lead the sort key, so every report reads one site's time range;
--   * partitions are (retention_days, day): a partition holds rows of a single retention, so
--     expiry is always a whole-partition drop (retention job, docs/privacy.md E1);
--   * plain types with empty defaults rather than Nullable on the hot columns.
-- Column order is the order of `crate::event::Event`: RowBinary is positional.
CREATE TABLE IF NOT EXISTS events
(
    site_id         UInt32,
    timestamp       DateTime,
    retention_days  UInt16,
    visitor_id      UInt64,
    visit_id        UInt64,
    event_type      Enum8('pageview' = 1, 'event' = 2, 'outlink' = 3, 'download' = 4, 'search' = 5, 'goal' = 6, 'ping' = 7),
    event_name      String,
    url_host        String,
    url_path        String,
    page_title      String,
    referrer_host   String,
    channel         String,
    source          String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_term        String,
    utm_content     String,
    country_code    String,
    region_code     String,
    region_name     String,
    city            String,
    browser         String,
    browser_version String,
    os              String,
    os_version      String,
    device          String,
    screen_class    String,
    language        String,
    event_category  String,
    event_action    String,
    event_value     Float64,
    goal_id         UInt32,
    revenue         Float64,
    search_keyword  String,
    search_category String,
    search_count    UInt32,
    link_url        String,
    prop_keys       Array(String),
    prop_values     Array(String)
)
ENGINE = MergeTree
PARTITION BY (retention_days, toYYYYMMDD(timestamp))
ORDER BY (site_id, toDate(timestamp), visitor_id, visit_id, timestamp);
