-- Issue 15, item 7: bounded writes per device.
-- When a check last rewrote the device's firmware or version (ms; 0 never since it was bound):
-- the registry row is rewritten at most once per REGISTRY_REWRITE_S (a minute by default).
ALTER TABLE devices ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
-- The UTC day (ms since the epoch / 86,400,000) of the last rewrite and how many rewrites that
-- day had: at most 24 of them a day leave a history entry.
ALTER TABLE devices ADD COLUMN change_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN day_changes INTEGER NOT NULL DEFAULT 0;
-- 1 when a check reported another firmware or version since the last rewrite (held back by the
-- interval): the next check after it rewrites the row even with what it holds.
ALTER TABLE devices ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
-- When the device's last progress report was stored (ms), whatever its module: the 3 s progress
-- limit is per device, so rotating module names does not pass it.
ALTER TABLE devices ADD COLUMN progress_at INTEGER;
