-- D1 that fits 10 M devices (issue 14, item 6): the registry slimmed to what its queries need,
-- the fleet summary answered from counts kept as devices change, rollout records without a
-- second copy of their key, and what retention needs to remove ids that came once.
--
-- `devices` is rebuilt WITHOUT ROWID, keyed by (project_key, id): a project's devices are one
-- range of the table itself in id order (the device list, the id-prefix search, the summary's
-- latest devices and retention's sweep read it with no index), and the other ways in are the id
-- alone (bindings, the registry, device authentication: `devices_id`), a version
-- (`devices_version`), a job state (`devices_job`, partial: a device that never had a job is
-- not in it) and a ban (`devices_banned`, partial: only banned devices; used by a query that
-- says `banned = 1`). The summary's indexes (firmware/version, banned, job) are gone: it reads
-- `fleet_counts` and `seen_hours`. No index holds `last_seen` (0007), and no trigger below fires
-- when an UPDATE assigns `last_seen` alone: a refresh still writes exactly one row.
CREATE TABLE devices_slim (
    id                 TEXT NOT NULL,
    project_key        TEXT NOT NULL,
    firmware_name      TEXT,
    version            TEXT,
    first_seen         INTEGER NOT NULL,
    last_seen          INTEGER NOT NULL,
    delivery_target    TEXT,
    deliveries         INTEGER NOT NULL DEFAULT 0,
    banned             INTEGER NOT NULL DEFAULT 0,
    banned_at          INTEGER,
    job_plan           TEXT,
    job_phase          TEXT,
    job_since          INTEGER,
    job_cause          TEXT,
    provisioned_at     INTEGER,
    key_generation     INTEGER,
    key_master_version INTEGER,
    PRIMARY KEY (project_key, id)
) WITHOUT ROWID;
INSERT INTO devices_slim (id, project_key, firmware_name, version, first_seen, last_seen, delivery_target,
    deliveries, banned, banned_at, job_plan, job_phase, job_since, job_cause, provisioned_at,
    key_generation, key_master_version)
SELECT id, project_key, firmware_name, version, first_seen, last_seen, delivery_target,
    deliveries, banned, banned_at, job_plan, job_phase, job_since, job_cause, provisioned_at,
    key_generation, key_master_version
FROM devices;
DROP TABLE devices;
ALTER TABLE devices_slim RENAME TO devices;
-- A device id is bound to one project, for good: lookups by id alone, and ON CONFLICT(id).
CREATE UNIQUE INDEX devices_id ON devices (id);
-- The version= filter and the q= version arm, paged in id order.
CREATE INDEX devices_version ON devices (project_key, version, id);
-- The state= filter (`job_phase = ?` implies `job_phase IS NOT NULL`, so SQLite may use it).
CREATE INDEX devices_job ON devices (project_key, job_phase, id) WHERE job_phase IS NOT NULL;
-- The banned=true filter, once the list's query names the value (`banned = 1`); a bound
-- parameter cannot select a partial index. Banned devices are few: this index is small.
CREATE INDEX devices_banned ON devices (project_key, id) WHERE banned = 1;

-- The fleet summary's counts per project, kept by the triggers below in the transaction that
-- changes a device: facet 'version' (name: JSON [firmware_name, version], nulls kept), 'phase'
-- (name: job_phase; a device without a job is the rest of the total) and 'banned' (name '').
-- A row whose count fell to zero is removed by retention.
CREATE TABLE fleet_counts (
    project_key TEXT NOT NULL,
    facet       TEXT NOT NULL,
    name        TEXT NOT NULL,
    devices     INTEGER NOT NULL,
    PRIMARY KEY (project_key, facet, name)
) WITHOUT ROWID;

-- Devices per project and clock hour of their `last_seen` (`hour`: the hour's start, ms) for the
-- summary's seen-within counts, and `latest`: the newest [id, last_seen] pairs written into that
-- hour (at most 12), for its latest devices. A binding, a deletion and a move between projects
-- are counted by the triggers below; a `last_seen` refresh by one statement per registry flush
-- (`store::summary::seen_hours_stmt`, placed before the flush's UPDATEs: it reads the stored
-- `last_seen` it moves the device away from), since no trigger may fire on that hot write.
-- Hours older than the summary's week and a day are removed by retention.
CREATE TABLE seen_hours (
    project_key TEXT NOT NULL,
    hour        INTEGER NOT NULL,
    devices     INTEGER NOT NULL,
    latest      TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (project_key, hour)
) WITHOUT ROWID;

INSERT INTO fleet_counts (project_key, facet, name, devices)
SELECT project_key, 'version', json_array(firmware_name, version), COUNT(*) FROM devices GROUP BY 1, 2, 3;
INSERT INTO fleet_counts (project_key, facet, name, devices)
SELECT project_key, 'phase', job_phase, COUNT(*) FROM devices WHERE job_phase IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO fleet_counts (project_key, facet, name, devices)
SELECT project_key, 'banned', '', COUNT(*) FROM devices WHERE banned <> 0 GROUP BY 1, 2, 3;
INSERT INTO seen_hours (project_key, hour, devices)
SELECT project_key, last_seen - last_seen % 3600000, COUNT(*) FROM devices
WHERE last_seen >= (CAST(strftime('%s', 'now') AS INTEGER) - 8 * 86400) * 1000 GROUP BY 1, 2;

CREATE TRIGGER devices_counted_insert AFTER INSERT ON devices BEGIN
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    VALUES (NEW.project_key, 'version', json_array(NEW.firmware_name, NEW.version), 1)
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    SELECT NEW.project_key, 'phase', NEW.job_phase, 1 WHERE NEW.job_phase IS NOT NULL
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    SELECT NEW.project_key, 'banned', '', 1 WHERE NEW.banned <> 0
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
    INSERT INTO seen_hours (project_key, hour, devices, latest)
    VALUES (NEW.project_key, NEW.last_seen - NEW.last_seen % 3600000, 1, json_array(json_array(NEW.id, NEW.last_seen)))
    ON CONFLICT (project_key, hour) DO UPDATE SET devices = devices + 1,
        latest = (SELECT json_group_array(json_array(d, a)) FROM (
            SELECT d, MAX(a) AS a FROM (
                SELECT json_extract(value, '$[0]') AS d, json_extract(value, '$[1]') AS a FROM json_each(seen_hours.latest)
                UNION ALL SELECT NEW.id, NEW.last_seen)
            GROUP BY d ORDER BY a DESC, d LIMIT 12));
END;

CREATE TRIGGER devices_counted_delete AFTER DELETE ON devices BEGIN
    UPDATE fleet_counts SET devices = devices - 1
    WHERE project_key = OLD.project_key AND facet = 'version' AND name = json_array(OLD.firmware_name, OLD.version);
    UPDATE fleet_counts SET devices = devices - 1
    WHERE OLD.job_phase IS NOT NULL AND project_key = OLD.project_key AND facet = 'phase' AND name = OLD.job_phase;
    UPDATE fleet_counts SET devices = devices - 1
    WHERE OLD.banned <> 0 AND project_key = OLD.project_key AND facet = 'banned' AND name = '';
    UPDATE seen_hours SET devices = devices - 1
    WHERE project_key = OLD.project_key AND hour = OLD.last_seen - OLD.last_seen % 3600000;
END;

-- Each UPDATE trigger names the columns it counts (never `last_seen`) and acts only when one of
-- their values changed: the coordinator's copy assigns job_phase and banned every time.
CREATE TRIGGER devices_counted_version AFTER UPDATE OF project_key, firmware_name, version ON devices
WHEN OLD.project_key IS NOT NEW.project_key OR OLD.firmware_name IS NOT NEW.firmware_name OR OLD.version IS NOT NEW.version
BEGIN
    UPDATE fleet_counts SET devices = devices - 1
    WHERE project_key = OLD.project_key AND facet = 'version' AND name = json_array(OLD.firmware_name, OLD.version);
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    VALUES (NEW.project_key, 'version', json_array(NEW.firmware_name, NEW.version), 1)
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER devices_counted_phase AFTER UPDATE OF project_key, job_phase ON devices
WHEN OLD.project_key IS NOT NEW.project_key OR OLD.job_phase IS NOT NEW.job_phase
BEGIN
    UPDATE fleet_counts SET devices = devices - 1
    WHERE OLD.job_phase IS NOT NULL AND project_key = OLD.project_key AND facet = 'phase' AND name = OLD.job_phase;
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    SELECT NEW.project_key, 'phase', NEW.job_phase, 1 WHERE NEW.job_phase IS NOT NULL
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER devices_counted_banned AFTER UPDATE OF project_key, banned ON devices
WHEN OLD.project_key IS NOT NEW.project_key OR OLD.banned IS NOT NEW.banned
BEGIN
    UPDATE fleet_counts SET devices = devices - 1
    WHERE OLD.banned <> 0 AND project_key = OLD.project_key AND facet = 'banned' AND name = '';
    INSERT INTO fleet_counts (project_key, facet, name, devices)
    SELECT NEW.project_key, 'banned', '', 1 WHERE NEW.banned <> 0
    ON CONFLICT (project_key, facet, name) DO UPDATE SET devices = devices + 1;
END;

-- A move between projects (an operator's, audited) takes the device's seen hour along.
CREATE TRIGGER devices_counted_move AFTER UPDATE OF project_key ON devices
WHEN OLD.project_key IS NOT NEW.project_key
BEGIN
    UPDATE seen_hours SET devices = devices - 1
    WHERE project_key = OLD.project_key AND hour = OLD.last_seen - OLD.last_seen % 3600000;
    INSERT INTO seen_hours (project_key, hour, devices)
    VALUES (NEW.project_key, NEW.last_seen - NEW.last_seen % 3600000, 1)
    ON CONFLICT (project_key, hour) DO UPDATE SET devices = devices + 1;
END;

-- A rollout's per-device records: the same columns, WITHOUT ROWID (the key was stored twice, in
-- the table and its primary-key index), and without `rollout_devices_offered`, which no query
-- reads. Retention removes a finished rollout's records after ROLLOUT_RECORDS_DAYS; its counts
-- stay in `rollouts.state`.
CREATE TABLE rollout_devices_slim (
    plan_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    cohort     INTEGER NOT NULL,
    phase      TEXT NOT NULL,
    since_ms   INTEGER NOT NULL,
    offered_ms INTEGER,
    cause      TEXT,
    PRIMARY KEY (plan_id, device_id)
) WITHOUT ROWID;
INSERT INTO rollout_devices_slim (plan_id, device_id, cohort, phase, since_ms, offered_ms, cause)
SELECT plan_id, device_id, cohort, phase, since_ms, offered_ms, cause FROM rollout_devices;
DROP TABLE rollout_devices;
ALTER TABLE rollout_devices_slim RENAME TO rollout_devices;

-- Retention's sweep of `devices` for ids that came once remembers where it stopped as text
-- (a project key and a device id).
ALTER TABLE retention_cursor ADD COLUMN mark TEXT;
