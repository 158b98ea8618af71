-- Engagement (Plausible's `engagement` event): how far down a page was read and for how long,
-- sent by the tracker when a page is hidden or left. A row of its own, of the page it is about;
-- like a heartbeat it only extends a live visit and never opens one. `scroll_depth` is a
-- percentage (0-100; 255 when the tracker did not say), `engaged_ms` the time the page was
-- visible and in use. And the currency of a revenue (Plausible's `revenue.currency`).
-- (No IF NOT EXISTS: 18.16 lacks it; the migrator treats "column already exists" as applied.)
ALTER TABLE events MODIFY COLUMN event_type Enum8('pageview' = 1, 'event' = 2, 'outlink' = 3, 'download' = 4, 'search' = 5, 'goal' = 6, 'ping' = 7, 'order' = 8, 'cart' = 9, 'content_impression' = 10, 'content_interaction' = 11, 'engagement' = 12);
ALTER TABLE events ADD COLUMN scroll_depth UInt8 DEFAULT 255;
ALTER TABLE events ADD COLUMN engaged_ms UInt32 DEFAULT 0;
ALTER TABLE events ADD COLUMN revenue_currency String DEFAULT '';
