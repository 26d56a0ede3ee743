-- Fleet scale: the indexes the fleet summary, the device list and retention need at a million
-- devices per project, and the retention cursor.

-- The summary's devices per (firmware, version): a covering index scan, no table reads.
CREATE INDEX devices_project_firmware_version ON devices (project_key, firmware_name, version);
-- Seen within 1 h / 24 h / 7 d, and the latest seen devices: a range of this index.
CREATE INDEX devices_project_last_seen ON devices (project_key, last_seen);
-- The banned count and the banned= filter.
CREATE INDEX devices_project_banned ON devices (project_key, banned, id);
-- The version= filter pages in id order straight off the index (the old index made SQLite
-- sort every device of that version to return the first page).
DROP INDEX devices_project_version;
CREATE INDEX devices_project_version ON devices (project_key, version, id);

-- Retention: expired replay rows are found without a scan. History past HISTORY_DAYS needs no
-- index of its own: entries are appended with the time, so the oldest are the lowest ids.
CREATE INDEX replay_until ON replay (until_ms);

-- How far the per-device history cap (HISTORY_KEEP) has looked through device_events: every
-- event above `cursor` may have pushed its device over the cap; those below have been dealt with.
CREATE TABLE retention_cursor (
    family TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL
);
