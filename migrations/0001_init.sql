-- The fleet registry and firmware metadata. Plans and the hot-path copies of projects and
-- device ownership live in KV; images live in R2 under images/<sha256>.

CREATE TABLE projects (
    key        TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    ban_after  INTEGER NOT NULL DEFAULT 6,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE firmware (
    project_key   TEXT NOT NULL REFERENCES projects(key),
    firmware_name TEXT NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    md5           TEXT NOT NULL,
    size          INTEGER NOT NULL,
    uploaded_at   INTEGER NOT NULL,
    PRIMARY KEY (project_key, firmware_name, version)
);
CREATE INDEX firmware_sha256 ON firmware (sha256);

-- One row per device id; the id is bound to the project of its first check, for good.
CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    project_key     TEXT NOT NULL,
    firmware_name   TEXT,
    version         TEXT,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    -- Loop-upgrade protection: deliveries of delivery_target since the device last reported it.
    delivery_target TEXT,
    deliveries      INTEGER NOT NULL DEFAULT 0,
    banned          INTEGER NOT NULL DEFAULT 0,
    banned_at       INTEGER
);
CREATE INDEX devices_project ON devices (project_key, id);
CREATE INDEX devices_project_version ON devices (project_key, version);
