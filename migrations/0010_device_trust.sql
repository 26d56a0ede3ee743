-- Issue 15, trust only what a device proves.
-- A project's device policy (open | registered | signed), and when an operator last changed a
-- binding in it: each location's copies of bindings older than that are read again.
ALTER TABLE projects ADD COLUMN device_policy TEXT NOT NULL DEFAULT 'open';
ALTER TABLE projects ADD COLUMN bindings_at INTEGER NOT NULL DEFAULT 0;
-- The protocol a registered (provisioned_at set) device speaks: NULL or 'json' for the signed
-- device API, 'luat' for a registered Luat device (which may sign its checks).
ALTER TABLE devices ADD COLUMN protocol TEXT;
