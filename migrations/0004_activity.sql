-- Checks and deliveries per project and hour, for the dashboard's sparkline. Counted in isolate
-- memory and flushed in the background every few seconds, so the hot path never waits on it.
CREATE TABLE activity (
    project_key TEXT NOT NULL,
    hour        INTEGER NOT NULL,
    checks      INTEGER NOT NULL DEFAULT 0,
    deliveries  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_key, hour)
);
