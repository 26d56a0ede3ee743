-- Module OTA for JSON (Aliyun/HaaS-style) devices: provisioning, per-module versions, the one
-- active job per device, replay protection, and the notice signing keys.

-- Set when an operator provisions the device; JSON device calls are refused without it.
ALTER TABLE devices ADD COLUMN provisioned_at INTEGER;

CREATE TABLE device_modules (
    device_id        TEXT NOT NULL,
    module           TEXT NOT NULL,
    version          TEXT NOT NULL,
    reported_at      INTEGER NOT NULL,
    last_progress_ms INTEGER,
    PRIMARY KEY (device_id, module)
);

-- The device's one job (fota_shared::module_job::ActiveJob as JSON).
CREATE TABLE device_jobs (
    device_id   TEXT PRIMARY KEY,
    project_key TEXT NOT NULL,
    plan_id     TEXT NOT NULL,
    phase       TEXT NOT NULL,
    job         TEXT NOT NULL,
    offered_ms  INTEGER,
    timeout_ms  INTEGER
);
CREATE INDEX device_jobs_phase ON device_jobs (project_key, phase);
CREATE INDEX device_jobs_timeout ON device_jobs (phase, timeout_ms);

-- Signatures seen within their timestamp window: a second use is a replay.
CREATE TABLE replay (
    key      TEXT PRIMARY KEY,
    until_ms INTEGER NOT NULL
);

-- A project's notice signing keys: only public halves; seeds are derived from the Worker's
-- DEVICE_MASTER_KEYS (version master_version), never stored.
CREATE TABLE signing_keys (
    project_key     TEXT NOT NULL,
    key_id          INTEGER NOT NULL,
    master_version  INTEGER NOT NULL,
    public_key_hex  TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    retire_after_ms INTEGER,
    PRIMARY KEY (project_key, key_id)
);
