-- Issue 16, packages per target version: a version may hold one whole image (full or script)
-- and any number of deltas, each built for one source version. `slot` tells them apart: '' for
-- the whole image, the canonical source version ('1.0.0') for a delta
-- (`fota_shared::rules::package::slot`). The table is rebuilt because the slot joins its key.
CREATE TABLE firmware_packages (
    project_key    TEXT NOT NULL REFERENCES projects(key),
    firmware_name  TEXT NOT NULL,
    version        TEXT NOT NULL,
    slot           TEXT NOT NULL DEFAULT '',
    sha256         TEXT NOT NULL,
    md5            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    uploaded_at    INTEGER NOT NULL,
    module         TEXT NOT NULL DEFAULT 'default',
    kind           TEXT NOT NULL DEFAULT 'full',
    source_version TEXT,
    notes          TEXT,
    uploader       TEXT,
    PRIMARY KEY (project_key, firmware_name, version, slot)
);
INSERT INTO firmware_packages (project_key, firmware_name, version, slot, sha256, md5, size,
    uploaded_at, module, kind, source_version, notes, uploader)
SELECT project_key, firmware_name, version,
    CASE WHEN kind = 'delta' THEN COALESCE(source_version, '') ELSE '' END,
    sha256, md5, size, uploaded_at, module, kind, source_version, notes, uploader
FROM firmware;
DROP TABLE firmware;
ALTER TABLE firmware_packages RENAME TO firmware;
CREATE INDEX firmware_sha256 ON firmware (sha256);

-- Item 4, the daily data budget: image bytes one device may be sent per UTC day (NULL: none).
ALTER TABLE projects ADD COLUMN daily_bytes_per_device INTEGER;
-- The operator's list of devices that reached their budget today (`GET .../devices?over_budget=true`):
-- their history entries, found without reading the rest of the history.
CREATE INDEX device_events_budget ON device_events (project_key, at) WHERE kind = 'daily_budget_reached';
