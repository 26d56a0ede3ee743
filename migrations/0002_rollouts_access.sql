-- Rollouts, per-device job state and history, firmware registry details, tokens, audit log.

ALTER TABLE firmware ADD COLUMN module TEXT NOT NULL DEFAULT 'default';
ALTER TABLE firmware ADD COLUMN kind TEXT NOT NULL DEFAULT 'full';
ALTER TABLE firmware ADD COLUMN source_version TEXT;
ALTER TABLE firmware ADD COLUMN notes TEXT;
ALTER TABLE firmware ADD COLUMN uploader TEXT;

-- The device's job in its current rollout, denormalized from rollout_devices for fleet filters.
ALTER TABLE devices ADD COLUMN job_plan TEXT;
ALTER TABLE devices ADD COLUMN job_phase TEXT;
ALTER TABLE devices ADD COLUMN job_since INTEGER;
ALTER TABLE devices ADD COLUMN job_cause TEXT;
CREATE INDEX devices_project_job ON devices (project_key, job_phase);

-- One row per plan target ("project/firmware@version"): the rollout's state as JSON (the
-- counters shared/src/rollout_state.rs keeps), written only by compare-and-swap on `version`.
CREATE TABLE rollouts (
    plan_id       TEXT PRIMARY KEY,
    project_key   TEXT NOT NULL,
    firmware_name TEXT NOT NULL,
    -- The state's phase, copied out so a sweep finds the live rollouts without parsing JSON.
    phase         TEXT NOT NULL,
    -- The highest share ever offered (percent), for the hot path's held-back shortcut.
    high_water    INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE rollout_devices (
    plan_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    cohort     INTEGER NOT NULL,
    phase      TEXT NOT NULL,
    since_ms   INTEGER NOT NULL,
    offered_ms INTEGER,
    cause      TEXT,
    PRIMARY KEY (plan_id, device_id)
);
CREATE INDEX rollout_devices_offered ON rollout_devices (plan_id, phase, offered_ms);

-- First offers per plan and clock minute, for max_per_minute.
CREATE TABLE rollout_rate (
    plan_id TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (plan_id, minute)
);

-- A device's history: checks (coalesced), deliveries, reports, offers, outcomes, bans.
CREATE TABLE device_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_key TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX device_events_device ON device_events (device_id, id);

-- API tokens: only the sha256 of the secret is kept.
CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER
);

-- Append-only: no route updates or deletes a row.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    project_key TEXT,
    target      TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_project ON audit (project_key, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
