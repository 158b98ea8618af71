-- What Matomo's tracker sends with a page view besides the page itself:
--   * `pv_id`: the id the tracker gives a page view, which its later actions on the page carry;
--   * the product or category a shop page shows (`_pks`, `_pkn`, `_pkc`, `_pkp`);
--   * the page's performance timings in milliseconds (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`,
--     `pf_dm2`, `pf_onl`), whose sum is the page's load time.
-- (No IF NOT EXISTS: 18.16 lacks it; the migrator treats "column already exists" as applied.)
ALTER TABLE events ADD COLUMN page_view_id String DEFAULT '';
ALTER TABLE events ADD COLUMN product_sku String DEFAULT '';
ALTER TABLE events ADD COLUMN product_name String DEFAULT '';
ALTER TABLE events ADD COLUMN product_category String DEFAULT '';
ALTER TABLE events ADD COLUMN product_price Float64 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_network_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_server_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_transfer_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_dom_processing_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_dom_completion_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN perf_on_load_ms UInt32 DEFAULT 0;
