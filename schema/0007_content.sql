-- Matomo content tracking: an impression of a content block, or an interaction with it. The
-- block's name is stored as the event name and the interaction (e.g. `click`) as the event
-- action; its piece (an image, a text) and its target (a URL, stored as host + path).
-- (No IF NOT EXISTS: 18.16 lacks it; the migrator treats "column already exists" as applied.)
ALTER TABLE events MODIFY COLUMN event_type Enum8('pageview' = 1, 'event' = 2, 'outlink' = 3, 'download' = 4, 'search' = 5, 'goal' = 6, 'ping' = 7, 'order' = 8, 'cart' = 9, 'content_impression' = 10, 'content_interaction' = 11);
ALTER TABLE events ADD COLUMN content_piece String DEFAULT '';
ALTER TABLE events ADD COLUMN content_target String DEFAULT '';
