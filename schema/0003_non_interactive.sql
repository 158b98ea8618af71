-- Events that must not end a bounce (Plausible's `interactive: false`, e.g. a scroll-depth or
-- video-progress event): 1 for those, 0 for everything else.
-- (No IF NOT EXISTS: 18.16 lacks it; the migrator treats "column already exists" as applied.)
ALTER TABLE events ADD COLUMN non_interactive UInt8 DEFAULT 0;
