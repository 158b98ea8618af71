-- Matomo ecommerce (`idgoal=0`): an order (with `ec_id`) or a cart update, never a page view.
-- The order's id is stored as the shop sent it (an order number, not a person); the amounts and
-- the items (bounded in number and length by the collector) are what revenue reports read.
-- (No IF NOT EXISTS: 18.16 lacks it; the migrator treats "column already exists" as applied.)
ALTER TABLE events MODIFY COLUMN event_type Enum8('pageview' = 1, 'event' = 2, 'outlink' = 3, 'download' = 4, 'search' = 5, 'goal' = 6, 'ping' = 7, 'order' = 8, 'cart' = 9);
ALTER TABLE events ADD COLUMN ec_order_id String DEFAULT '';
ALTER TABLE events ADD COLUMN ec_subtotal Float64 DEFAULT 0;
ALTER TABLE events ADD COLUMN ec_tax Float64 DEFAULT 0;
ALTER TABLE events ADD COLUMN ec_shipping Float64 DEFAULT 0;
ALTER TABLE events ADD COLUMN ec_discount Float64 DEFAULT 0;
ALTER TABLE events ADD COLUMN ec_item_skus Array(String);
ALTER TABLE events ADD COLUMN ec_item_names Array(String);
ALTER TABLE events ADD COLUMN ec_item_categories Array(String);
ALTER TABLE events ADD COLUMN ec_item_prices Array(Float64);
ALTER TABLE events ADD COLUMN ec_item_quantities Array(UInt32);
